using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A real redis-server of the test's own: loopback only, a free port, a temporary directory, no persistence. It can be
/// stopped and started again on the same port (a store outage). With <see cref="RedisTlsFiles"/> it speaks only TLS on
/// its port; extra config lines (ACL users, for one) go into its config file.
/// </summary>
internal sealed class RedisProcess : IAsyncDisposable
{
    private readonly string _directory;
    private readonly RedisTlsFiles? _tls;
    private readonly IReadOnlyList<string> _config;
    private Process? _process;

    private RedisProcess(string directory, int port, RedisTlsFiles? tls, IReadOnlyList<string> config)
    {
        _directory = directory;
        Port = port;
        _tls = tls;
        _config = config;
    }

    public int Port { get; }

    /// <summary>The temporary directory of this Redis (tests put their certificate files there).</summary>
    public string Directory => _directory;

    /// <summary>The -Cluster address of this Redis.</summary>
    public string Address => $"{(_tls is null ? "redis" : "rediss")}://127.0.0.1:{Port}";

    public static string? Executable => FindOnPath("redis-server");

    /// <summary>Starts a Redis; <paramref name="tls"/>, when given, writes its TLS files into the Redis's directory first.</summary>
    public static async Task<RedisProcess> StartAsync(Func<string, RedisTlsFiles>? tls = null, params string[] config)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("tunnelps-redis-").FullName;
        var redis = new RedisProcess(directory, FreePort(), tls?.Invoke(directory), config);
        await redis.StartAgainAsync();
        return redis;
    }

    /// <summary>Starts the server (again) on its port and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("redis-server is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        var configFile = Path.Combine(_directory, "redis.conf");
        File.WriteAllLines(configFile, _config);
        info.ArgumentList.Add(configFile);
        var port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] ports = _tls is { } tls
            ? ["--port", "0", "--tls-port", port, "--tls-cert-file", tls.CertificateFile, "--tls-key-file", tls.KeyFile, "--tls-ca-cert-file", tls.CaFile, "--tls-auth-clients", "no"]
            : ["--port", port];
        foreach (var arg in ports.Concat(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory, "--daemonize", "no", "--protected-mode", "yes"]))
        {
            info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        while (!await PingsAsync())
        {
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new InvalidOperationException($"redis-server did not start on port {Port}.");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>Kills the server (an outage); its data is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    /// <summary>
    /// Runs one command on this Redis as any client that may write to it would (no cluster secret), and returns its
    /// reply: a simple string, an error ("-..."), an integer as text, a bulk string, or null for a nil reply.
    /// </summary>
    public async Task<string?> ExecuteAsync(params string[] command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TunnelHarness.Deadline);
        var stream = client.GetStream();
        var request = new System.Text.StringBuilder().Append('*').Append(command.Length).Append("\r\n");
        foreach (var part in command)
        {
            request.Append('$').Append(System.Text.Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var line = await reader.ReadLineAsync(deadline.Token) ?? throw new IOException("Redis closed the connection without a reply.");
        return line[0] switch
        {
            '+' or ':' => line[1..],
            '-' => line,
            '$' when line == "$-1" => null,
            '$' => await reader.ReadLineAsync(deadline.Token),
            _ => throw new InvalidOperationException($"Unexpected Redis reply '{line}'."),
        };
    }

    private async Task<bool> PingsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            Stream stream = client.GetStream();
            if (_tls is not null)
            {
                // Readiness only: the test's own server, whatever its certificate.
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" });
                stream = ssl;
            }
            await using (stream)
            {
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                var buffer = new byte[16];
                var n = await stream.ReadAsync(buffer);
                // Any answer means it serves (a server whose default user is off answers -NOAUTH).
                return n >= 5 && buffer[0] is (byte)'+' or (byte)'-';
            }
        }
        catch (SocketException)
        {
            return false;
        }
        catch (System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        foreach (var dir in new[] { "/usr/bin", "/usr/sbin", "/usr/local/bin" })
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The PEM files of a Redis that speaks TLS: its certificate, its key and the CA it trusts for clients.</summary>
internal sealed record RedisTlsFiles(string CertificateFile, string KeyFile, string CaFile);
