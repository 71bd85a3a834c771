using System.Diagnostics;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>The whole process's CPU time (user + kernel, all threads) and managed bytes allocated, at one moment.</summary>
internal readonly record struct ProcessCost(TimeSpan Cpu, long Allocated, long Timestamp)
{
    public static ProcessCost Now()
    {
        using var self = Process.GetCurrentProcess();
        return new ProcessCost(self.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true), Stopwatch.GetTimestamp());
    }

    /// <summary>What happened since <paramref name="before"/>: CPU, allocation and wall time.</summary>
    public (TimeSpan Cpu, long Allocated, TimeSpan Elapsed) Since(ProcessCost before) =>
        (Cpu - before.Cpu, Allocated - before.Allocated, Stopwatch.GetElapsedTime(before.Timestamp, Timestamp));

    /// <summary>A full collection before a measurement, so that garbage of the one before is not collected during it.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
