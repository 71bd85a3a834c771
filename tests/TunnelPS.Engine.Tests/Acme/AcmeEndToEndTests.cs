using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Acme;

/// <summary>A fact that needs Debian's pebble and pebble-challtestsrv; skipped with the reason when they are missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PebbleFactAttribute : FactAttribute
{
    public PebbleFactAttribute()
    {
        if (PebbleProcess.Executable is null || PebbleProcess.ChallengeServer is null)
        {
            Skip = "pebble and pebble-challtestsrv are not installed, so the ACME tests cannot run (Debian/Ubuntu: apt-get install -y pebble; .ci/run installs it).";
        }
        else if (PebbleProcess.FindOnPath("curl") is null)
        {
            Skip = "curl is not installed; the ACME tests verify certificates with curl --cacert (apt-get install -y curl).";
        }
    }
}

/// <summary>
/// ACME end to end against a real ACME server on this machine: Debian's pebble validating against the tunnel server's
/// own ports (TLS-ALPN-01 on the TLS port, HTTP-01 on the HTTP port), every name resolving to 127.0.0.1 through
/// pebble-challtestsrv, and each issued certificate checked by curl --cacert against pebble's issuing root, as a
/// browser that trusts the CA would.
/// </summary>
public sealed class AcmeEndToEndTests(ITestOutputHelper output) : IAsyncDisposable
{
    private const string Domain = "acme.test";
    private static readonly TimeSpan IssueDeadline = TimeSpan.FromSeconds(90);
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnelps-acme-").FullName;

    public ValueTask DisposeAsync()
    {
        foreach (var listener in _reserved)
        {
            listener.Stop();
        }
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    private readonly List<TcpListener> _reserved = [];

    /// <summary>
    /// Ports are taken first (pebble must know them) and held while pebble picks its own ports and starts, so that it
    /// cannot pick them; the server's start lets go of them just before it binds them.
    /// </summary>
    private (int Tls, int Http) FreePorts()
    {
        var tls = new TcpListener(IPAddress.Loopback, 0);
        var http = new TcpListener(IPAddress.Loopback, 0);
        tls.Start();
        http.Start();
        _reserved.Add(tls);
        _reserved.Add(http);
        return (((IPEndPoint)tls.LocalEndpoint).Port, ((IPEndPoint)http.LocalEndpoint).Port);
    }

    private Task<TunnelServer> StartServerAsync(PebbleProcess pebble, int tls, int http, Func<AcmeOptions, AcmeOptions>? configure = null)
    {
        foreach (var listener in _reserved)
        {
            listener.Stop();
        }
        var acme = new AcmeOptions
        {
            Directory = pebble.Directory,
            AcceptTermsOfService = true,
            Email = "admin@" + Domain,
            DirectoryRoot = pebble.DirectoryRoot,
            StateFolder = Path.Combine(_folder, "acme"),
            RetryDelay = TimeSpan.FromSeconds(1),
            MaxRetryDelay = TimeSpan.FromSeconds(2),
            ScanInterval = TimeSpan.FromMilliseconds(500),
        };
        return TunnelHarness.StartServerAsync(o => o with
        {
            Domain = Domain,
            Certificate = null,
            CertificateFolder = Path.Combine(_folder, "certs"),
            Acme = configure is null ? acme : configure(acme),
        }, tls, http);
    }

    private static TunnelClient Client(TunnelServer server, int localPort, string subdomain) =>
        new(TunnelHarness.ClientOptions(server, TunnelHarness.Http(localPort, subdomain, subdomain, "https", "http")));

    private static async Task<AcmeCertificateInfo> WaitForStatusAsync(TunnelServer server, string name, AcmeCertificateStatus status, PebbleProcess pebble, Func<AcmeCertificateInfo, bool>? also = null)
    {
        var deadline = DateTime.UtcNow + IssueDeadline;
        while (true)
        {
            var info = server.AcmeCertificates.FirstOrDefault(c => c.Names.Contains(name));
            if (info is not null && info.Status == status && (also is null || also(info)))
            {
                return info;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name} did not reach {status} (last: {info?.Status} {info?.Detail}).\n{pebble.Log}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>curl --cacert &lt;pebble's root&gt; --resolve: the exit code and what it printed.</summary>
    private async Task<(int Exit, string Output)> CurlAsync(string rootPem, string host, int port, string path = "/")
    {
        var rootFile = Path.Combine(_folder, "pebble-root.pem");
        await File.WriteAllTextAsync(rootFile, rootPem);
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-sS", "--max-time", "20", "--cacert", rootFile, "--resolve", $"{host}:{port}:127.0.0.1", $"https://{host}:{port}{path}" })
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment.Remove("https_proxy");
        info.Environment.Remove("HTTPS_PROXY");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The certificate a TLS handshake for <paramref name="host"/> gets (no validation: the test inspects it).</summary>
    private static async Task<X509Certificate2> HandshakeAsync(int port, string host)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream(), false, static (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host, ApplicationProtocols = [SslApplicationProtocol.Http11] });
        return new X509Certificate2(ssl.RemoteCertificate!);
    }

    [PebbleFact]
    public async Task A_name_a_tunnel_registers_gets_a_certificate_by_TLS_ALPN_01_that_curl_trusts_with_pebbles_root()
    {
        var (tls, http) = FreePorts();
        await using var pebble = await PebbleProcess.StartAsync(http, tls);
        var clock = Stopwatch.StartNew();
        await using var server = await StartServerAsync(pebble, tls, http, a => a with { Challenges = [AcmeChallengeType.TlsAlpn01] });
        await using var local = new LocalHttpService();
        await using var client = Client(server, local.Port, "app");
        await client.StartAsync();
        var host = "app." + Domain;

        // Until issued, the name is served with the local CA's certificate and the status says so.
        var first = server.AcmeCertificates.Single();
        Assert.Equal([host], first.Names);

        var info = await WaitForStatusAsync(server, host, AcmeCertificateStatus.Valid, pebble);
        var root = await pebble.IssuingRootPemAsync();
        var (exit, text) = await CurlAsync(root, host, tls, "/hello");
        output.WriteLine($"first trusted HTTPS response {clock.Elapsed.TotalSeconds:0.00} s after the server started: curl exit {exit}: {text}");
        Assert.True(exit == 0, $"curl failed ({exit}): {text}\n{pebble.Log}");
        Assert.Equal("hello GET /hello", text);
        Assert.Contains("Pebble", info.Issuer, StringComparison.OrdinalIgnoreCase);
        Assert.Null(info.Detail);
        Assert.True(server.Acme!.Responder.TlsAnswers > 0);
        Assert.Equal(0, server.Acme.Responder.HttpAnswers);

        // The control plane keeps the pinned certificate; the key on disk is the owner's only.
        Assert.Equal(server.Certificate.Thumbprint, (await HandshakeAsync(tls, Domain)).Thumbprint);
        var keyFile = Path.Combine(_folder, "acme", host + ".key");
        Assert.True(File.Exists(keyFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, "acme", "account.key")));
        }
    }

    [PebbleFact]
    public async Task HTTP_01_on_the_plain_port_issues_a_certificate_and_a_restarted_server_serves_it_from_its_state_folder()
    {
        var (tls, http) = FreePorts();
        await using var pebble = await PebbleProcess.StartAsync(http, tls);
        var host = "web." + Domain;
        string thumbprint;
        await using (var server = await StartServerAsync(pebble, tls, http, a => a with { Challenges = [AcmeChallengeType.Http01] }))
        {
            await using var local = new LocalHttpService();
            await using var client = Client(server, local.Port, "web");
            await client.StartAsync();
            await WaitForStatusAsync(server, host, AcmeCertificateStatus.Valid, pebble);
            Assert.True(server.Acme!.Responder.HttpAnswers > 0);
            Assert.Equal(0, server.Acme.Responder.TlsAnswers);
            var (exit, text) = await CurlAsync(await pebble.IssuingRootPemAsync(), host, tls, "/x");
            Assert.True(exit == 0, $"curl failed ({exit}): {text}");
            thumbprint = (await HandshakeAsync(tls, host)).Thumbprint;
        }

        // A restart loads the certificate from disk: served at once, no new order.
        await using var again = await StartServerAsync(pebble, tls, http, a => a with { Challenges = [AcmeChallengeType.Http01] });
        var stored = Assert.Single(again.AcmeCertificates);
        Assert.Equal(AcmeCertificateStatus.Valid, stored.Status);
        Assert.Equal(thumbprint, (await HandshakeAsync(tls, host)).Thumbprint);
        Assert.Equal(0, again.Acme!.OrdersPlaced);
    }

    [PebbleFact]
    public async Task A_name_no_tunnel_holds_is_never_ordered_whatever_a_visitor_asks_for()
    {
        var (tls, http) = FreePorts();
        await using var pebble = await PebbleProcess.StartAsync(http, tls);
        await using var server = await StartServerAsync(pebble, tls, http);

        var seen = await HandshakeAsync(tls, "nobody." + Domain);

        Assert.Equal(server.Certificate.Thumbprint, seen.Thumbprint);
        Assert.Empty(server.AcmeCertificates);
        Assert.Equal(0, server.Acme!.OrdersPlaced);
    }

    [PebbleFact]
    public async Task An_order_the_CA_refuses_is_Failed_with_the_problem_detail_and_the_name_keeps_the_local_CA_certificate()
    {
        var (tls, http) = FreePorts();
        var host = "blocked." + Domain;
        await using var pebble = await PebbleProcess.StartAsync(http, tls, blocked: [host]);
        await using var server = await StartServerAsync(pebble, tls, http);
        await using var local = new LocalHttpService();
        await using var client = Client(server, local.Port, "blocked");
        await client.StartAsync();

        var info = await WaitForStatusAsync(server, host, AcmeCertificateStatus.Failed, pebble);

        Assert.Contains("rejectedIdentifier", info.Detail, StringComparison.Ordinal);
        Assert.NotNull(info.NextAttempt);
        Assert.Null(info.NotAfter);
        var seen = await HandshakeAsync(tls, host);
        Assert.True(server.CertificateAuthority is not null && seen.Issuer == server.CertificateAuthority.Subject, $"served {seen.Issuer}");
    }

    [PebbleFact]
    public async Task A_short_lived_certificate_is_renewed_at_two_thirds_of_its_lifetime_and_a_failed_renewal_keeps_it()
    {
        var (tls, http) = FreePorts();
        var pebble = await PebbleProcess.StartAsync(http, tls, validitySeconds: 30);
        var host = "renew." + Domain;
        try
        {
            await using var server = await StartServerAsync(pebble, tls, http);
            await using var local = new LocalHttpService();
            await using var client = Client(server, local.Port, "renew");
            await client.StartAsync();
            var first = await WaitForStatusAsync(server, host, AcmeCertificateStatus.Valid, pebble);
            output.WriteLine($"first certificate until {first.NotAfter:u}, renewal from {first.RenewAt:u}");
            var firstServed = (await HandshakeAsync(tls, host)).Thumbprint;

            // Renewed once two thirds of its 30 s have passed: a new certificate is served.
            var renewed = await WaitForStatusAsync(server, host, AcmeCertificateStatus.Valid, pebble, i => i.NotAfter > first.NotAfter);
            Assert.NotEqual(firstServed, (await HandshakeAsync(tls, host)).Thumbprint);
            Assert.True(server.Acme!.OrdersPlaced >= 2);

            // The CA goes away: the next renewal fails, is Failed with the reason, and the certificate stays served.
            await pebble.DisposeAsync();
            var servedBefore = (await HandshakeAsync(tls, host)).Thumbprint;
            var failed = await WaitForStatusAsync(server, host, AcmeCertificateStatus.Failed, pebble);
            Assert.Contains("could not be reached", failed.Detail, StringComparison.Ordinal);
            Assert.Equal(renewed.NotAfter, failed.NotAfter);
            Assert.Equal(servedBefore, (await HandshakeAsync(tls, host)).Thumbprint);
        }
        finally
        {
            await pebble.DisposeAsync();
        }
    }

    [PebbleFact]
    public async Task BadNonce_answers_are_retried_with_the_fresh_nonce()
    {
        var (tls, http) = FreePorts();
        await using var pebble = await PebbleProcess.StartAsync(http, tls, environment: new Dictionary<string, string> { ["PEBBLE_WFE_NONCEREJECT"] = "40" });
        await using var server = await StartServerAsync(pebble, tls, http);
        await using var local = new LocalHttpService();
        await using var client = Client(server, local.Port, "nonce");
        await client.StartAsync();

        await WaitForStatusAsync(server, "nonce." + Domain, AcmeCertificateStatus.Valid, pebble);

        Assert.True(server.Acme!.BadNonceRetries > 0, "pebble rejected no nonce; the retry path was not exercised");
    }

    [PebbleFact]
    public async Task A_CA_that_requires_external_account_binding_issues_with_the_key_and_refuses_without_it()
    {
        var (tls, http) = FreePorts();
        const string keyId = "kid-1";
        const string hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
        await using var pebble = await PebbleProcess.StartAsync(http, tls, requireEab: true, eabKeys: new Dictionary<string, string> { [keyId] = hmac });
        await using (var refused = await StartServerAsync(pebble, tls, http, a => a with { StateFolder = Path.Combine(_folder, "no-eab") }))
        {
            await using var local = new LocalHttpService();
            await using var client = Client(refused, local.Port, "eab");
            await client.StartAsync();
            var failed = await WaitForStatusAsync(refused, "eab." + Domain, AcmeCertificateStatus.Failed, pebble);
            Assert.Contains("-AcmeExternalAccountBinding", failed.Detail, StringComparison.Ordinal);
        }

        await using var server = await StartServerAsync(pebble, tls, http, a => a with { EabKeyId = keyId, EabHmacKey = hmac });
        await using var local2 = new LocalHttpService();
        await using var client2 = Client(server, local2.Port, "eab");
        await client2.StartAsync();
        await WaitForStatusAsync(server, "eab." + Domain, AcmeCertificateStatus.Valid, pebble);
    }
}
