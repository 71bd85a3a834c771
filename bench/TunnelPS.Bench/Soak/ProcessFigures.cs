using System.Diagnostics;
using System.Globalization;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// One process's own memory and descriptors, as a child reports them: the managed heap after a full blocking
/// collection, what the GC has committed, the resident set (VmRSS) and its private anonymous part (RssAnon, the memory
/// only this process holds), threads, and the open descriptors by kind (sockets also by TCP state, so a socket the
/// peer closed and this process did not shows up as CLOSE_WAIT).
/// </summary>
internal sealed record ProcessFigures
{
    public long ManagedHeap { get; init; }
    public long GcCommitted { get; init; }
    public long GcFragmented { get; init; }
    public long WorkingSet { get; init; }
    public long Private { get; init; }
    public int Threads { get; init; }
    public int ThreadPoolThreads { get; init; }
    public int Descriptors { get; init; }

    /// <summary>
    /// Descriptors on the runtime's and the program's own files (.dll, .pdb, .so): the runtime opens some lazily, once
    /// (the stack-trace reader's assemblies and a .pdb, the first time a stack trace is rendered), so they are counted
    /// apart from the descriptors a leak would add (sockets, pipes, event fds, other files).
    /// </summary>
    public int RuntimeFiles { get; init; }
    public Dictionary<string, int> DescriptorKinds { get; init; } = [];
    public Dictionary<string, int> SocketStates { get; init; } = [];
    public long UnobservedTaskExceptions { get; init; }
    public int Gen2Collections { get; init; }
    public double CpuSeconds { get; init; }

    private const string RuntimeFileKind = "runtime file (.dll, .pdb, .so)";

    private static long s_unobserved;

    /// <summary>Counts (and writes to stderr) task exceptions nobody observed and any unhandled exception.</summary>
    public static void WatchExceptions()
    {
        TaskScheduler.UnobservedTaskException += (_, e) =>
        {
            Interlocked.Increment(ref s_unobserved);
            Console.Error.WriteLine("UNOBSERVED TASK EXCEPTION: " + e.Exception);
            e.SetObserved();
        };
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Console.Error.WriteLine("UNHANDLED EXCEPTION: " + e.ExceptionObject);
    }

    /// <summary>
    /// Collects everything, after two full blocking collections with finalizers run between them; the second is an
    /// aggressive one, which also gives the memory the GC holds free back to the system, so the resident figures
    /// compare across samples instead of showing how much free memory the GC happened to keep.
    /// </summary>
    public static ProcessFigures Collect()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        var status = ReadStatus();
        var (total, kinds, states) = DescriptorCensus();
        using var self = Process.GetCurrentProcess();
        return new ProcessFigures
        {
            ManagedHeap = heap,
            GcCommitted = info.TotalCommittedBytes,
            GcFragmented = info.FragmentedBytes,
            WorkingSet = status.GetValueOrDefault("VmRSS", self.WorkingSet64),
            Private = status.GetValueOrDefault("RssAnon", self.PrivateMemorySize64),
            Threads = (int)status.GetValueOrDefault("Threads", self.Threads.Count),
            ThreadPoolThreads = ThreadPool.ThreadCount,
            Descriptors = total,
            RuntimeFiles = kinds.GetValueOrDefault(RuntimeFileKind),
            DescriptorKinds = kinds,
            SocketStates = states,
            UnobservedTaskExceptions = Interlocked.Read(ref s_unobserved),
            Gen2Collections = GC.CollectionCount(2),
            CpuSeconds = self.TotalProcessorTime.TotalSeconds,
        };
    }

    /// <summary>
    /// Gives the free memory of the C heap (glibc's malloc arenas: OpenSSL's buffers, for one) back to the system, so a
    /// measurement can tell memory still in use from memory the allocator keeps for reuse. False where it is not glibc.
    /// </summary>
    public static bool TrimNativeHeap()
    {
        try
        {
            return OperatingSystem.IsLinux() && NativeMethods.malloc_trim(0) != 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport("libc")]
#pragma warning disable CA5392, SYSLIB1054, IDE1006 // A plain libc call without marshalling.
        public static extern int malloc_trim(nuint pad);
#pragma warning restore CA5392, SYSLIB1054, IDE1006
    }

    /// <summary>Open descriptors now (cheap: no link targets read), or -1 where /proc/self/fd does not exist.</summary>
    public static int DescriptorCount()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>Every open descriptor's link target, grouped: sockets by TCP state, other targets by path (for leak hunting).</summary>
    public static Dictionary<string, int> DescriptorTargets()
    {
        var states = TcpStatesByInode();
        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var target in LinkTargets())
        {
            var key = target.StartsWith("socket:[", StringComparison.Ordinal)
                ? "socket " + states.GetValueOrDefault(target[8..^1], "not tcp")
                : target.StartsWith("pipe:[", StringComparison.Ordinal) ? "pipe" : target;
            targets[key] = targets.GetValueOrDefault(key) + 1;
        }
        return targets;
    }

    private static (int Total, Dictionary<string, int> Kinds, Dictionary<string, int> States) DescriptorCensus()
    {
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        var socketStates = new Dictionary<string, int>(StringComparer.Ordinal);
        var byInode = TcpStatesByInode();
        var total = 0;
        foreach (var target in LinkTargets())
        {
            total++;
            string kind;
            if (target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                kind = "socket";
                var state = byInode.GetValueOrDefault(target[8..^1], "not tcp");
                socketStates[state] = socketStates.GetValueOrDefault(state) + 1;
            }
            else if (target.StartsWith("pipe:[", StringComparison.Ordinal))
            {
                kind = "pipe";
            }
            else if (target.StartsWith("anon_inode:", StringComparison.Ordinal))
            {
                kind = target;
            }
            else if (target.StartsWith("/dev/", StringComparison.Ordinal))
            {
                kind = "device";
            }
            else if (target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".pdb", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal) || target.Contains(".so.", StringComparison.Ordinal))
            {
                kind = RuntimeFileKind;
            }
            else
            {
                kind = "file";
            }
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }
        return (total, kinds, socketStates);
    }

    private static List<string> LinkTargets()
    {
        var targets = new List<string>();
        try
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                try
                {
                    var target = new FileInfo(entry).LinkTarget ?? "?";
                    // The enumerations' own handles on /proc/self/fd (this one, or the peak sampler's at the same moment).
                    if (!(target.StartsWith("/proc/", StringComparison.Ordinal) && target.EndsWith("/fd", StringComparison.Ordinal)))
                    {
                        targets.Add(target);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The descriptor closed while the folder was read.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return targets;
    }

    /// <summary>TCP sockets of the whole network namespace by inode, with their state name (from /proc/net/tcp and tcp6).</summary>
    private static Dictionary<string, string> TcpStatesByInode()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            try
            {
                foreach (var line in File.ReadLines(file).Skip(1))
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 9)
                    {
                        result[fields[9]] = StateName(fields[3]);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return result;
    }

    private static string StateName(string hex) => hex switch
    {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => hex,
    };

    /// <summary>The sizes of /proc/self/status in bytes (kB fields) or counts (Threads).</summary>
    private static Dictionary<string, long> ReadStatus()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    continue;
                }
                var parts = line[(colon + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                {
                    values[line[..colon]] = parts.Length > 1 && parts[1] == "kB" ? value * 1024 : value;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return values;
    }
}
