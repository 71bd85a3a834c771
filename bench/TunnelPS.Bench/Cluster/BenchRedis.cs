using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TunnelPS.Bench.Cluster;

/// <summary>The benchmark's own redis-server: loopback, a free port, a temporary directory, no persistence.</summary>
internal sealed class BenchRedis : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private BenchRedis(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public static async Task<BenchRedis> StartAsync()
    {
        var executable = new[] { "/usr/bin", "/usr/local/bin", "/usr/sbin" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            .Select(d => Path.Combine(d, "redis-server"))
            .FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed (Debian: apt-get install -y redis-server); the cluster benchmark needs it.");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var directory = Directory.CreateTempSubdirectory("tunnelps-bench-redis-").FullName;
        var info = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(20);
            }
        }
        return new BenchRedis(process, directory, port);
    }

    /// <summary>Kills the server (a store outage; the benchmark ends before it would come back).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
