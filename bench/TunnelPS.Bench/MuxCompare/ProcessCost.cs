using System.Diagnostics;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>The whole process's CPU time (user + kernel, all threads), managed bytes allocated and socket writes and reads (<see cref="CountingStream"/>), at one moment.</summary>
internal readonly record struct ProcessCost(TimeSpan Cpu, long Allocated, long Timestamp, long SocketWrites, long SocketReads)
{
    public static ProcessCost Now()
    {
        using var self = Process.GetCurrentProcess();
        return new ProcessCost(self.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true), Stopwatch.GetTimestamp(), CountingStream.Writes, CountingStream.Reads);
    }

    /// <summary>What happened since <paramref name="before"/>: CPU, allocation and wall time.</summary>
    public (TimeSpan Cpu, long Allocated, TimeSpan Elapsed) Since(ProcessCost before) =>
        (Cpu - before.Cpu, Allocated - before.Allocated, Stopwatch.GetElapsedTime(before.Timestamp, Timestamp));

    /// <summary>Socket writes and reads since <paramref name="before"/>, both sides together.</summary>
    public (long Writes, long Reads) SocketCallsSince(ProcessCost before) => (SocketWrites - before.SocketWrites, SocketReads - before.SocketReads);

    /// <summary>A full collection before a measurement, so that garbage of the one before is not collected during it.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
