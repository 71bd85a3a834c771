using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A real redis-sentinel of the test's own on a free loopback port, watching one primary under a service name with
/// short failure detection, in a temporary directory (a sentinel rewrites its config file).
/// </summary>
internal sealed class SentinelProcess : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Process _process;

    private SentinelProcess(string directory, int port, Process process)
    {
        _directory = directory;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    public static string? Executable => RedisProcess.FindOnPath("redis-sentinel");

    /// <summary>Starts a sentinel that watches <paramref name="primaryPort"/> as <paramref name="service"/> and waits until it answers.</summary>
    public static async Task<SentinelProcess> StartAsync(string service, int primaryPort, TimeSpan downAfter, TimeSpan failoverTimeout)
    {
        var directory = Directory.CreateTempSubdirectory("tunnelps-sentinel-").FullName;
        var port = FreePort();
        var config = Path.Combine(directory, "sentinel.conf");
        File.WriteAllLines(config,
        [
            $"port {port}",
            "bind 127.0.0.1",
            "daemonize no",
            $"dir {directory}",
            string.Create(CultureInfo.InvariantCulture, $"sentinel monitor {service} 127.0.0.1 {primaryPort} 2"),
            string.Create(CultureInfo.InvariantCulture, $"sentinel down-after-milliseconds {service} {(int)downAfter.TotalMilliseconds}"),
            string.Create(CultureInfo.InvariantCulture, $"sentinel failover-timeout {service} {(int)failoverTimeout.TotalMilliseconds}"),
            $"sentinel parallel-syncs {service} 1",
        ]);
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("redis-sentinel is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        info.ArgumentList.Add(config);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sentinel = new SentinelProcess(directory, port, process);
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        while (true)
        {
            try
            {
                if (await sentinel.QueryAsync("PING") is ["PONG"])
                {
                    return sentinel;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                if (DateTime.UtcNow > deadline || process.HasExited)
                {
                    await sentinel.DisposeAsync();
                    throw new InvalidOperationException($"redis-sentinel did not start on port {port}: {ex.Message}");
                }
            }
            await Task.Delay(20);
        }
    }

    /// <summary>What <c>SENTINEL master</c> says of the service: its fields by name.</summary>
    public async Task<Dictionary<string, string>> MasterAsync(string service)
    {
        var fields = await QueryAsync("SENTINEL", "MASTER", service);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < fields.Count; i += 2)
        {
            map[fields[i]] = fields[i + 1];
        }
        return map;
    }

    /// <summary>Runs one command and returns its reply flattened (arrays in order; errors as "-...").</summary>
    public async Task<List<string>> QueryAsync(params string[] command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TunnelHarness.Deadline);
        var stream = client.GetStream();
        var request = new StringBuilder().Append('*').Append(command.Length).Append("\r\n");
        foreach (var part in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var values = new List<string>();
        await ReadAsync(reader, values, deadline.Token);
        return values;
    }

    private static async Task ReadAsync(StreamReader reader, List<string> values, CancellationToken token)
    {
        var line = await reader.ReadLineAsync(token) ?? throw new IOException("The sentinel closed the connection without a reply.");
        switch (line[0])
        {
            case '+' or ':':
                values.Add(line[1..]);
                break;
            case '-':
                values.Add(line);
                break;
            case '$' when line == "$-1":
                break;
            case '$':
                values.Add(await reader.ReadLineAsync(token) ?? "");
                break;
            case '*':
                var count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                for (var i = 0; i < count; i++)
                {
                    await ReadAsync(reader, values, token);
                }
                break;
            default:
                throw new InvalidOperationException($"Unexpected sentinel reply '{line}'.");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file the sentinel still wrote as it died: the temporary folder stays, nothing else depends on it.
        }
    }
}
