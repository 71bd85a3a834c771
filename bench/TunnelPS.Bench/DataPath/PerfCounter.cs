using System.Diagnostics;
using System.Globalization;

namespace TunnelPS.Bench.DataPath;

/// <summary>Syscalls and context switches of one process over a window, from perf stat's tracepoints.</summary>
/// <remarks>
/// <see cref="WouldBlock"/> counts the receives among <see cref="Receives"/> that found nothing (EAGAIN): .NET tries a
/// socket read (for a zero-byte read, a 1-byte peek) at once and waits for the readiness event only after that failed
/// attempt, so a connection that waits for each message costs a failed receive and a receive per message.
/// </remarks>
internal sealed record SyscallCounts(long Sends, long Receives, long EpollWaits, long Futexes, long AllSyscalls, long ContextSwitches, long WouldBlock)
{
    public static SyscallCounts Sum(IEnumerable<SyscallCounts> counts) => counts.Aggregate(
        new SyscallCounts(0, 0, 0, 0, 0, 0, 0),
        (a, b) => new SyscallCounts(a.Sends + b.Sends, a.Receives + b.Receives, a.EpollWaits + b.EpollWaits, a.Futexes + b.Futexes, a.AllSyscalls + b.AllSyscalls, a.ContextSwitches + b.ContextSwitches, a.WouldBlock + b.WouldBlock));

    /// <summary>Each count per request, times 1000.</summary>
    public SyscallCounts PerThousandRequests(double requests)
    {
        long Per(long count) => (long)(count * 1000 / requests);
        return new(Per(Sends), Per(Receives), Per(EpollWaits), Per(Futexes), Per(AllSyscalls), Per(ContextSwitches), Per(WouldBlock));
    }
}

/// <summary>
/// "perf stat -p PID -- sleep N" with syscall tracepoints: sends are sendto, sendmsg, write, writev and sendfile64;
/// receives are recvfrom, recvmsg, read and readv; of those, the ones that would have blocked are counted at their exit
/// with a filter on the result (-11, EAGAIN). Hardware counters are not needed (this machine has none to give).
/// </summary>
internal static class PerfCounter
{
    private static readonly string[] s_sends = ["sendto", "sendmsg", "write", "writev", "sendfile64"];
    private static readonly string[] s_receives = ["recvfrom", "recvmsg", "read", "readv"];

    private static readonly string[] s_events =
    [
        "context-switches",
        "raw_syscalls:sys_enter",
        .. s_sends.Select(s => "syscalls:sys_enter_" + s),
        .. s_receives.Select(s => "syscalls:sys_enter_" + s),
        "syscalls:sys_enter_epoll_wait",
        "syscalls:sys_enter_futex",
    ];

    // Receives that found nothing: each exit tracepoint with its own filter (perf applies a filter to the event before it).
    private static readonly string[] s_wouldBlock = ["recvfrom", "recvmsg", "read"];

    private static readonly string[] s_plainArguments = ["-e", string.Join(',', s_events)];

    private static readonly string[] s_filteredArguments =
    [
        .. s_plainArguments,
        .. s_wouldBlock.SelectMany(s => new[] { "-e", "syscalls:sys_exit_" + s, "--filter", "ret == -11" }),
    ];

    // Where perf cannot filter tracepoints, the rows go on without the would-block counts (they read 0).
    private static string[] s_arguments = s_filteredArguments;

    /// <summary>perf's path when it can count the tracepoints here, or null and why not.</summary>
    public static async Task<(string? Path, string Reason)> ProbeAsync()
    {
        var perf = ToolLocator.Find("perf");
        if (perf is null)
        {
            return (null, "perf is not installed (apt-get install -y linux-perf)");
        }
        try
        {
            var (exit, text) = await RunAsync(perf, ["stat", "-x", ",", .. s_filteredArguments, "--", "true"]);
            if (exit == 0 && !Unsupported(text))
            {
                s_arguments = s_filteredArguments;
                return (perf, "perf stat with syscall tracepoints");
            }
            (exit, text) = await RunAsync(perf, ["stat", "-x", ",", .. s_plainArguments, "--", "true"]);
            if (exit != 0 || Unsupported(text))
            {
                return (null, "perf stat cannot count syscall tracepoints here: " + text.Trim().Split('\n')[0]);
            }
            s_arguments = s_plainArguments;
            return (perf, "perf stat with syscall tracepoints (without filters: would-block receives not counted)");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (null, "perf could not run: " + ex.Message);
        }
    }

    private static bool Unsupported(string text) =>
        text.Contains("not supported", StringComparison.OrdinalIgnoreCase) || text.Contains("<not counted>", StringComparison.Ordinal);

    /// <summary>Counts the events of <paramref name="pids"/> (each separately) for <paramref name="window"/>.</summary>
    public static Task<SyscallCounts[]> CountAsync(string perf, IReadOnlyList<int> pids, TimeSpan window) =>
        Task.WhenAll(pids.Select(async pid =>
        {
            var seconds = window.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            var (exit, text) = await RunAsync(perf, ["stat", "-x", ",", .. s_arguments, "-p", pid.ToString(CultureInfo.InvariantCulture), "--", "sleep", seconds]);
            if (exit != 0)
            {
                throw new InvalidOperationException($"perf stat exited with code {exit}: {text}");
            }
            return Parse(text);
        }));

    internal static SyscallCounts Parse(string text)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var fields = line.Split(',');
            if (fields.Length >= 3 && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                counts[fields[2].Trim()] = value;
            }
        }
        long Get(string name) => counts.TryGetValue(name, out var v) ? v : 0;
        return new SyscallCounts(
            s_sends.Sum(s => Get("syscalls:sys_enter_" + s)),
            s_receives.Sum(s => Get("syscalls:sys_enter_" + s)),
            Get("syscalls:sys_enter_epoll_wait"),
            Get("syscalls:sys_enter_futex"),
            Get("raw_syscalls:sys_enter"),
            Get("context-switches"),
            s_wouldBlock.Sum(s => Get("syscalls:sys_exit_" + s)));
    }

    private static async Task<(int Exit, string Text)> RunAsync(string perf, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(perf) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("perf did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await error + await output);
    }
}
