namespace TunnelPS.Engine.Inspection;

/// <summary>What <see cref="HarReader.ReadEntries"/> has met so far: entries read, and entries skipped as too large to hold.</summary>
internal sealed class HarReadProgress
{
    /// <summary>Entries read and returned.</summary>
    public long Read { get; internal set; }

    /// <summary>Entries skipped, unread, because their JSON was larger than the most one entry may hold.</summary>
    public long Skipped { get; internal set; }
}
