using System.Globalization;
using System.Runtime.InteropServices;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// What one process knows about itself: CPU time and context switches (getrusage, which sums every thread, including
/// threads that have ended; /proc/self/status counts the main thread only), managed allocation and heap, resident
/// memory, open descriptors, and the vfs read/write syscall counts of /proc/self/io. Sent between processes as one
/// line of key=value pairs.
/// </summary>
internal sealed record ProcessCounters(
    double UserMs,
    double SystemMs,
    long VoluntarySwitches,
    long InvoluntarySwitches,
    long AllocatedBytes,
    long HeapBytes,
    long ResidentBytes,
    int Descriptors,
    long ReadSyscalls,
    long WriteSyscalls,
    long Connections,
    long PeakResidentBytes)
{
    public double CpuMs => UserMs + SystemMs;

    /// <summary>The calling process's counters; <paramref name="collect"/> runs a full collection first (for the heap figure).</summary>
    public static ProcessCounters ReadSelf(bool collect, long connections = -1)
    {
        if (collect)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }
        var usage = Usage.Read();
        var (syscr, syscw) = ReadIo();
        return new ProcessCounters(
            usage.UserMs, usage.SystemMs, usage.Voluntary, usage.Involuntary,
            GC.GetTotalAllocatedBytes(precise: true),
            GC.GetTotalMemory(forceFullCollection: false),
            ResidentOf("self"),
            CountDescriptors("self"),
            syscr, syscw, connections, usage.MaxRssKiB * 1024);
    }

    /// <summary>
    /// Another (single-threaded) process's CPU time (from /proc/PID/stat, in clock ticks of 10 ms), resident memory,
    /// descriptors and context switches (/proc/PID/status counts one thread, which is all an nginx worker has).
    /// </summary>
    public static OtherProcess ReadOther(int pid)
    {
        var id = pid.ToString(CultureInfo.InvariantCulture);
        try
        {
            var stat = File.ReadAllText($"/proc/{id}/stat");
            // Fields after the command name (which may hold spaces) start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return new OtherProcess(ticks * 10.0, StatusValue(id, "VmRSS:") * 1024, CountDescriptors(id), StatusValue(id, "voluntary_ctxt_switches:"), StatusValue(id, "nonvoluntary_ctxt_switches:"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return new OtherProcess(0, 0, 0, 0, 0);
        }
    }

    public string ToLine() => string.Create(CultureInfo.InvariantCulture,
        $"user={UserMs:0.###} sys={SystemMs:0.###} vcs={VoluntarySwitches} ivcs={InvoluntarySwitches} alloc={AllocatedBytes} heap={HeapBytes} rss={ResidentBytes} fds={Descriptors} syscr={ReadSyscalls} syscw={WriteSyscalls} conns={Connections} maxrss={PeakResidentBytes}");

    public static ProcessCounters Parse(string line)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[pair[..eq]] = pair[(eq + 1)..];
            }
        }
        double D(string key) => double.Parse(values[key], CultureInfo.InvariantCulture);
        long L(string key) => long.Parse(values[key], CultureInfo.InvariantCulture);
        return new ProcessCounters(D("user"), D("sys"), L("vcs"), L("ivcs"), L("alloc"), L("heap"), L("rss"), (int)L("fds"), L("syscr"), L("syscw"), L("conns"), L("maxrss"));
    }

    private static long ResidentOf(string pid) => StatusValue(pid, "VmRSS:") * 1024;

    private static long StatusValue(string pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static int CountDescriptors(string pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    private static (long Read, long Write) ReadIo()
    {
        long read = -1, write = -1;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/io"))
            {
                if (line.StartsWith("syscr:", StringComparison.Ordinal))
                {
                    read = long.Parse(line[6..].Trim(), CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("syscw:", StringComparison.Ordinal))
                {
                    write = long.Parse(line[6..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return (read, write);
    }

    /// <summary>getrusage(RUSAGE_SELF): microsecond CPU times and context switches summed over every thread, living or ended.</summary>
    private static class Usage
    {
        public static (double UserMs, double SystemMs, long Voluntary, long Involuntary, long MaxRssKiB) Read()
        {
            if (NativeMethods.getrusage(0, out var usage) != 0)
            {
                throw new InvalidOperationException("getrusage failed with errno " + Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture));
            }
            return ((usage.UserSeconds * 1e3) + (usage.UserMicroseconds / 1e3), (usage.SystemSeconds * 1e3) + (usage.SystemMicroseconds / 1e3), usage.Nvcsw, usage.Nivcsw, usage.MaxRss);
        }

        /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct RUsage
        {
            public long UserSeconds;
            public long UserMicroseconds;
            public long SystemSeconds;
            public long SystemMicroseconds;
            public long MaxRss;
            public long Ixrss;
            public long Idrss;
            public long Isrss;
            public long Minflt;
            public long Majflt;
            public long Nswap;
            public long Inblock;
            public long Oublock;
            public long Msgsnd;
            public long Msgrcv;
            public long Nsignals;
            public long Nvcsw;
            public long Nivcsw;
        }

        private static class NativeMethods
        {
            [DllImport("libc", SetLastError = true)]
#pragma warning disable CA5392, SYSLIB1054, IDE1006 // A plain libc call with a blittable struct; nothing for the source generator to improve.
            public static extern int getrusage(int who, out RUsage usage);
#pragma warning restore CA5392, SYSLIB1054, IDE1006
        }
    }
}

/// <summary>What can be read of another process from /proc.</summary>
internal sealed record OtherProcess(double CpuMs, long ResidentBytes, int Descriptors, long VoluntarySwitches, long InvoluntarySwitches)
{
    public static OtherProcess operator +(OtherProcess a, OtherProcess b) => new(
        a.CpuMs + b.CpuMs, a.ResidentBytes + b.ResidentBytes, a.Descriptors + b.Descriptors, a.VoluntarySwitches + b.VoluntarySwitches, a.InvoluntarySwitches + b.InvoluntarySwitches);
}
