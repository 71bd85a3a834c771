using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// The harness's own nginx: a generated configuration in a temporary folder (plain HTTP and HTTPS on free loopback
/// ports, one worker, access log off, pid and error log in the folder, "daemon off" as a child process) serving 1 KiB,
/// 1 MiB, 256 MiB and 1 GiB files. The large files are sparse (no disk is written; reads return zeros from the page
/// cache). Everything is deleted on dispose.
/// </summary>
internal sealed class NginxHost : IAsyncDisposable
{
    public const string Executable = "nginx";
    public const int Workers = 1;

    private readonly Process _process;
    private readonly DirectoryInfo _folder;

    private readonly string[] _arguments;
    private readonly string _executable;

    private NginxHost(Process process, DirectoryInfo folder, int port, int tlsPort, string executable, string[] arguments)
    {
        _process = process;
        _executable = executable;
        _arguments = arguments;
        _folder = folder;
        Port = port;
        TlsPort = tlsPort;
    }

    public int Port { get; }
    public int TlsPort { get; }
    public int MasterPid => _process.Id;

    public static string? Find() => ToolLocator.Find(Executable, "/usr/sbin");

    public static async Task<NginxHost> StartAsync(string executable)
    {
        var folder = Directory.CreateTempSubdirectory("tunnelps-bench-nginx-");
        var www = Directory.CreateDirectory(Path.Combine(folder.FullName, "www"));
        await File.WriteAllBytesAsync(Path.Combine(www.FullName, "1k"), Enumerable.Repeat((byte)'x', 1024).ToArray());
        await File.WriteAllBytesAsync(Path.Combine(www.FullName, "1m"), new byte[1024 * 1024]);
        foreach (var (name, size) in new[] { ("256m", 256L << 20), ("1g", 1L << 30) })
        {
            using var sparse = File.Create(Path.Combine(www.FullName, name));
            sparse.SetLength(size);
        }
        using (var certificate = CertificateStore.CreateSelfSigned("localhost"))
        using (var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The bench certificate has no ECDSA key."))
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "cert.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        }
        var port = FreePort();
        var tlsPort = FreePort();
        var root = folder.FullName;
        // As root, nginx would run its worker as "nobody", which cannot read the temporary folder.
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        var config = string.Create(CultureInfo.InvariantCulture, $$"""
            {{user}}worker_processes {{Workers}};
            worker_rlimit_nofile 20000;
            pid {{root}}/nginx.pid;
            error_log {{root}}/error.log warn;
            daemon off;
            events { worker_connections 16000; }
            http {
                access_log off;
                sendfile on;
                keepalive_requests 1000000;
                keepalive_timeout 300s;
                default_type application/octet-stream;
                client_body_temp_path {{root}}/body;
                proxy_temp_path {{root}}/proxy;
                fastcgi_temp_path {{root}}/fastcgi;
                uwsgi_temp_path {{root}}/uwsgi;
                scgi_temp_path {{root}}/scgi;
                server {
                    listen 127.0.0.1:{{port}} default_server;
                    listen 127.0.0.1:{{tlsPort}} ssl default_server;
                    ssl_certificate {{root}}/cert.pem;
                    ssl_certificate_key {{root}}/key.pem;
                    server_name _;
                    root {{root}}/www;
                    location / { }
                }
            }
            """);
        var configPath = Path.Combine(root, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config);
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var arguments = new[] { "-p", root, "-e", Path.Combine(root, "error.log"), "-c", configPath };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start.");
        var host = new NginxHost(process, folder, port, tlsPort, executable, arguments);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                var log = File.Exists(Path.Combine(root, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(root, "error.log")) : "";
                var stderr = await process.StandardError.ReadToEndAsync();
                await host.DisposeAsync();
                throw new InvalidOperationException($"nginx exited with code {process.ExitCode}: {stderr} {log}");
            }
            if (await CanConnectAsync(port) && await CanConnectAsync(tlsPort) && host.WorkerPids().Count == Workers)
            {
                return host;
            }
            if (DateTime.UtcNow > deadline)
            {
                await host.DisposeAsync();
                throw new TimeoutException("nginx did not start listening within 15 s.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The worker processes (children of the master), whose CPU and memory are nginx's share of a request.</summary>
    public IReadOnlyList<int> WorkerPids()
    {
        try
        {
            var children = File.ReadAllText($"/proc/{_process.Id}/task/{_process.Id}/children");
            return children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>nginx's CPU time, resident memory, descriptors and context switches (master and workers), summed.</summary>
    public OtherProcess Counters() =>
        WorkerPids().Append(_process.Id).Select(ProcessCounters.ReadOther).Aggregate(new OtherProcess(0, 0, 0, 0, 0), (a, b) => a + b);

    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task<bool> CanConnectAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        var workers = WorkerPids();
        if (!_process.HasExited)
        {
            // "nginx -s stop" sends SIGTERM to the master through the pid file (fast shutdown; it ends its workers).
            var stop = new ProcessStartInfo(_executable) { UseShellExecute = false, RedirectStandardError = true };
            foreach (var argument in _arguments.Append("-s").Append("stop"))
            {
                stop.ArgumentList.Add(argument);
            }
            using (var signal = Process.Start(stop))
            {
                if (signal is not null)
                {
                    await signal.WaitForExitAsync();
                }
            }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }
        await Task.Delay(200);
        foreach (var worker in workers)
        {
            try
            {
                using var orphan = Process.GetProcessById(worker);
                if (orphan.ProcessName.Contains("nginx", StringComparison.Ordinal))
                {
                    orphan.Kill();
                }
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
            }
        }
        _process.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
