using System.Diagnostics;
using System.Text.Json;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The parent's side of a soak child (server or client): starts this same program with a role flag, waits for its
/// READY line, asks for its stats, and copies its standard error to a log file. Every wait is bounded.
/// </summary>
internal sealed class ChildProcessHandle : IDisposable
{
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Task _stderrCopy;
    private readonly SemaphoreSlim _requests = new(1, 1);

    private ChildProcessHandle(Process process, Task stderrCopy, string name, JsonElement ready)
    {
        _process = process;
        _stderrCopy = stderrCopy;
        Name = name;
        Ready = ready;
    }

    public string Name { get; }

    /// <summary>What the child announced in its READY line (ports, host names, thumbprint...).</summary>
    public JsonElement Ready { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once the child has exited, for the report.</summary>
    public string ExitDescription => _process.HasExited ? "exited with code " + _process.ExitCode : "running";

    public static async Task<ChildProcessHandle> StartAsync(string name, string logPath, IEnumerable<string> arguments, TimeSpan readyTimeout)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildProcessHandle).Assembly.Location);
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the " + name + " child process.");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var copy = CopyAsync(process.StandardError, log);
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync().WaitAsync(readyTimeout);
        }
        catch (TimeoutException)
        {
            line = null;
        }
        if (line is null || !line.StartsWith("READY ", StringComparison.Ordinal))
        {
            Kill(process);
            process.Dispose();
            throw new InvalidOperationException($"The {name} child process did not start (said '{line}'); see {logPath}.");
        }
        using var document = JsonDocument.Parse(line[6..]);
        return new ChildProcessHandle(process, copy, name, document.RootElement.Clone());
    }

    private static async Task CopyAsync(StreamReader from, StreamWriter to)
    {
        await using (to)
        {
            while (await from.ReadLineAsync() is { } line)
            {
                await to.WriteLineAsync(line);
            }
        }
    }

    /// <summary>The child's stats; null when it has exited or does not answer within a minute.</summary>
    public async Task<ChildStats?> StatsAsync(bool resetPeaks = false)
    {
        var answer = await RequestAsync(resetPeaks ? "STATS RESET" : "STATS");
        return answer is null ? null : JsonSerializer.Deserialize<ChildStats>(answer);
    }

    /// <summary>The child's open descriptors by link target (sockets by TCP state).</summary>
    public async Task<Dictionary<string, int>?> DescriptorTargetsAsync()
    {
        var answer = await RequestAsync("FDS");
        return answer is null ? null : JsonSerializer.Deserialize<Dictionary<string, int>>(answer);
    }

    /// <summary>Asks the child to give its C heap's free memory back to the system (glibc malloc_trim).</summary>
    public Task TrimNativeHeapAsync() => RequestAsync("TRIM");

    private async Task<string?> RequestAsync(string request)
    {
        if (!await _requests.WaitAsync(s_answerTimeout))
        {
            return null;
        }
        try
        {
            if (_process.HasExited)
            {
                return null;
            }
            await _process.StandardInput.WriteLineAsync(request);
            await _process.StandardInput.FlushAsync();
            return await _process.StandardOutput.ReadLineAsync().WaitAsync(s_answerTimeout);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            _requests.Release();
        }
    }

    /// <summary>Ends the child at once (SIGKILL), as a crash or an operator's kill -9 would.</summary>
    public void Kill() => Kill(_process);

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>Asks the child to exit, kills it after 15 s, and waits for its log to be written.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("EXIT");
                _process.StandardInput.Flush();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
        }
        if (!_process.WaitForExit(15_000))
        {
            Kill(_process);
            _process.WaitForExit(5_000);
        }
        _stderrCopy.Wait(TimeSpan.FromSeconds(5));
        _process.Dispose();
        _requests.Dispose();
    }
}
