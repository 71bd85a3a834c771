using System.Diagnostics;
using System.Globalization;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// The harness's side of a server or client child process: the same executable run with role flags. The child prints
/// its READY lines, then answers "STATS" (or "STATS gc", after a full collection) with one line of
/// <see cref="ProcessCounters"/>, and ends on "EXIT".
/// </summary>
internal sealed class RoleProcess : IAsyncDisposable
{
    private readonly Process _process;

    private RoleProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>Starts the bench executable with <paramref name="arguments"/>; output lines are read with <see cref="ReadLineAsync"/>.</summary>
    public static RoleProcess Start(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(RoleProcess).Assembly.Location);
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return new RoleProcess(Process.Start(start) ?? throw new InvalidOperationException("Could not start " + start.FileName));
    }

    public async Task<string> ReadLineAsync(TimeSpan timeout)
    {
        var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(timeout);
        return line ?? throw new InvalidOperationException($"The child process {Pid} ended (exit code {(_process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "?")}).");
    }

    public async Task SendLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public async Task<ProcessCounters> StatsAsync(bool collect = false)
    {
        await _process.StandardInput.WriteLineAsync(collect ? "STATS gc" : "STATS");
        await _process.StandardInput.FlushAsync();
        var line = await ReadLineAsync(TimeSpan.FromSeconds(60));
        if (!line.StartsWith("STATS ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Child {Pid} answered '{line}' to STATS.");
        }
        return ProcessCounters.Parse(line[6..]);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("EXIT");
                await _process.StandardInput.FlushAsync();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }

    /// <summary>The child's side: answers STATS until EXIT or the end of its input.</summary>
    public static async Task ServeCommandsAsync(Func<long> connections)
    {
        while (await Console.In.ReadLineAsync() is { } line && line != "EXIT")
        {
            if (line.StartsWith("STATS", StringComparison.Ordinal))
            {
                var counters = ProcessCounters.ReadSelf(collect: line.EndsWith(" gc", StringComparison.Ordinal), connections());
                Console.WriteLine("STATS " + counters.ToLine());
            }
            else
            {
                Console.WriteLine("ERROR unknown command " + line);
            }
        }
    }
}
