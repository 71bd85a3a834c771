using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// Debian's pebble (an RFC 8555 ACME test server) and pebble-challtestsrv (its DNS, answering 127.0.0.1 for every
/// name), each on free loopback ports in a temporary folder, with pebble's httpPort/tlsPort pointed at a tunnel
/// server's ports and PEBBLE_VA_NOSLEEP=1. Pebble's own HTTPS uses a CA made here (<see cref="DirectoryRoot"/>: the
/// -AcmeRootCertificate case); the root it issues under comes from its management API (<see cref="IssuingRootPemAsync"/>).
/// </summary>
internal sealed class PebbleProcess : IAsyncDisposable
{
    private readonly string _folder;
    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();

    private PebbleProcess(string folder, X509Certificate2 root)
    {
        _folder = folder;
        DirectoryRoot = root;
    }

    public static string? Executable => FindOnPath("pebble");

    public static string? ChallengeServer => FindOnPath("pebble-challtestsrv");

    /// <summary>The CA that signed pebble's HTTPS certificate (public part only).</summary>
    public X509Certificate2 DirectoryRoot { get; }

    public int AcmePort { get; private set; }
    public int ManagementPort { get; private set; }
    public int DnsPort { get; private set; }
    public int ChallengeManagementPort { get; private set; }

    public Uri Directory => new($"https://127.0.0.1:{AcmePort}/dir");

    /// <summary>What pebble and challtestsrv wrote (for a failing test's message).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts challtestsrv and pebble; validations go to 127.0.0.1:<paramref name="httpPort"/> and :<paramref name="tlsPort"/>.</summary>
    /// <param name="blocked">Names pebble refuses to issue for (its domainBlocklist).</param>
    /// <param name="environment">Extra environment (PEBBLE_WFE_NONCEREJECT, PEBBLE_CHAIN_LENGTH, ...).</param>
    public static async Task<PebbleProcess> StartAsync(int httpPort, int tlsPort, IEnumerable<string>? blocked = null, IReadOnlyDictionary<string, string>? environment = null,
        bool requireEab = false, IReadOnlyDictionary<string, string>? eabKeys = null, int? validitySeconds = null, string? dnsServer = null)
    {
        var folder = System.IO.Directory.CreateTempSubdirectory("tunnelps-pebble-").FullName;
        var (root, certPem, keyPem) = CreateHttpsCertificate();
        var pebble = new PebbleProcess(folder, root);
        try
        {
            await pebble.StartCoreAsync(httpPort, tlsPort, certPem, keyPem, blocked ?? [], environment ?? new Dictionary<string, string>(), requireEab, eabKeys, validitySeconds, dnsServer);
            return pebble;
        }
        catch
        {
            await pebble.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(int httpPort, int tlsPort, string certPem, string keyPem, IEnumerable<string> blocked, IReadOnlyDictionary<string, string> environment,
        bool requireEab, IReadOnlyDictionary<string, string>? eabKeys, int? validitySeconds, string? dnsServer)
    {
        File.WriteAllText(Path.Combine(_folder, "cert.pem"), certPem);
        File.WriteAllText(Path.Combine(_folder, "key.pem"), keyPem);
        DnsPort = FreeUdpPort();
        ChallengeManagementPort = FreePort();
        Start(ChallengeServer!, new Dictionary<string, string>(), "-dns01", $"127.0.0.1:{DnsPort}", "-management", $"127.0.0.1:{ChallengeManagementPort}",
            "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "");
        AcmePort = FreePort();
        ManagementPort = FreePort();
        var config = new StringBuilder()
            .Append("{\"pebble\":{")
            .Append(CultureInfo.InvariantCulture, $"\"listenAddress\":\"127.0.0.1:{AcmePort}\",\"managementListenAddress\":\"127.0.0.1:{ManagementPort}\",")
            .Append("\"certificate\":\"").Append(Path.Combine(_folder, "cert.pem")).Append("\",\"privateKey\":\"").Append(Path.Combine(_folder, "key.pem")).Append("\",")
            .Append(CultureInfo.InvariantCulture, $"\"httpPort\":{httpPort},\"tlsPort\":{tlsPort},\"ocspResponderURL\":\"\",")
            .Append("\"externalAccountBindingRequired\":").Append(requireEab ? "true" : "false").Append(',')
            .Append("\"externalAccountMACKeys\":{").Append(string.Join(",", (eabKeys ?? new Dictionary<string, string>()).Select(k => $"\"{k.Key}\":\"{k.Value}\""))).Append("},")
            .Append("\"domainBlocklist\":[").Append(string.Join(",", blocked.Select(b => "\"" + b + "\""))).Append(']');
        if (validitySeconds is { } seconds)
        {
            config.Append(CultureInfo.InvariantCulture, $",\"certificateValidityPeriod\":{seconds}");
        }
        config.Append("}}");
        var configFile = Path.Combine(_folder, "pebble.json");
        File.WriteAllText(configFile, config.ToString());
        var env = new Dictionary<string, string>(environment) { ["PEBBLE_VA_NOSLEEP"] = "1" };
        env.TryAdd("PEBBLE_WFE_NONCEREJECT", "0");
        Start(Executable!, env, "-config", configFile, "-dnsserver", dnsServer ?? $"127.0.0.1:{DnsPort}");
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        using var http = HttpClientTrusting(DirectoryRoot);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(Directory);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && _processes.All(p => !p.HasExited))
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline || _processes.Any(p => p.HasExited))
            {
                throw new InvalidOperationException("pebble did not start: " + Log);
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The PEM of the root pebble issues under (its management API, /roots/0).</summary>
    public async Task<string> IssuingRootPemAsync()
    {
        using var http = HttpClientTrusting(DirectoryRoot);
        return await http.GetStringAsync(new Uri($"https://127.0.0.1:{ManagementPort}/roots/0"));
    }

    /// <summary>An HttpClient that trusts only <paramref name="root"/> (what -AcmeRootCertificate does, for the test's own calls).</summary>
    public static HttpClient HttpClientTrusting(X509Certificate2 root) => new(new SocketsHttpHandler
    {
        SslOptions =
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(new X509Certificate2(certificate));
            },
        },
        UseProxy = false,
    })
    { Timeout = TunnelHarness.Deadline };

    private void Start(string executable, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _folder };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info)!;
        _processes.Add(process);
        var name = Path.GetFileName(executable);
        process.OutputDataReceived += (_, e) => Append(name, e.Data);
        process.ErrorDataReceived += (_, e) => Append(name, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private void Append(string name, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            if (_log.Length < 256 * 1024)
            {
                _log.Append(name).Append(": ").AppendLine(line);
            }
        }
    }

    /// <summary>A CA and a certificate for 127.0.0.1/localhost signed by it, for pebble's own HTTPS.</summary>
    private static (X509Certificate2 Root, string CertPem, string KeyPem) CreateHttpsCertificate()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=TunnelPS test CA for pebble's HTTPS", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var leaf = request.Create(ca, now.AddDays(-1), now.AddDays(29), [1, 2, 3, 4, 5, 6, 7, 8]);
        return (new X509Certificate2(ca.RawData), leaf.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A loopback port free for both UDP and TCP (a DNS server's port; pebble-challtestsrv and named serve both).</summary>
    internal static int FreeUdpPort()
    {
        // challtestsrv serves DNS over TCP too: the port must be free there as well. A free UDP port's TCP twin is often
        // taken while the rest of the suite runs (seen: "Address already in use"), so try further ports until both are free.
        for (var attempt = 1; ; attempt++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            try
            {
                using var tcp = new TcpListener(IPAddress.Loopback, port);
                tcp.Start();
                return port;
            }
            catch (SocketException) when (attempt < 100)
            {
                // The TCP twin is in use: another port.
            }
        }
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
            process.Dispose();
        }
        try
        {
            System.IO.Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process: the temporary folder is left for the OS to clean.
        }
    }
}
