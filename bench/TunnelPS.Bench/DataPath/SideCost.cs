namespace TunnelPS.Bench.DataPath;

/// <summary>What the server, the client and nginx spent over one measured window (differences of their counters).</summary>
internal sealed record SideCost(ProcessCounters Server, ProcessCounters Client, OtherProcess Nginx)
{
    public static ProcessCounters Difference(ProcessCounters after, ProcessCounters before) => new(
        after.UserMs - before.UserMs,
        after.SystemMs - before.SystemMs,
        after.VoluntarySwitches - before.VoluntarySwitches,
        after.InvoluntarySwitches - before.InvoluntarySwitches,
        after.AllocatedBytes - before.AllocatedBytes,
        after.HeapBytes - before.HeapBytes,
        after.ResidentBytes - before.ResidentBytes,
        after.Descriptors - before.Descriptors,
        after.ReadSyscalls - before.ReadSyscalls,
        after.WriteSyscalls - before.WriteSyscalls,
        after.Connections - before.Connections,
        after.PeakResidentBytes);
}
