using System.Globalization;

namespace TunnelPS.Engine.Inspection;

/// <summary>What <see cref="HarImporter.Import"/> did.</summary>
public sealed class HarImportResult
{
    /// <summary>Entries read from the file.</summary>
    public long Read { get; init; }

    /// <summary>The file's exchanges the store still holds, oldest first (the newest entries of the file).</summary>
    public IReadOnlyList<CapturedExchange> Kept { get; init; } = [];

    /// <summary>Entries read but dropped to keep the store within its limits.</summary>
    public long Dropped => Read - Kept.Count;

    /// <summary>Entries skipped unread: each larger than <see cref="MaxEntryBytes"/>.</summary>
    public long TooLarge { get; init; }

    public int MaxEntryBytes { get; init; }

    /// <summary>Exchanges of the other stores sharing the budget (the tunnels' captures) evicted while importing.</summary>
    public long OthersDropped { get; init; }

    /// <summary>The store's limits: requests held, and bytes (its own or the shared budget's, the larger).</summary>
    public int Capacity { get; init; }

    public long MaxBytes { get; init; }

    /// <summary>A sentence on what was dropped or skipped and why, or null when everything is kept.</summary>
    public string? Describe(string file)
    {
        if (Dropped == 0 && TooLarge == 0 && OthersDropped == 0)
        {
            return null;
        }
        var c = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        if (Dropped > 0)
        {
            parts.Add(string.Format(c, "kept the newest {0:N0} of the {1:N0} requests of '{2}': {3:N0} older ones were dropped to keep the capture within its limits ({4:N0} requests, {5} MiB, the budget live traffic uses: Start-Tunnel -InspectLimit and -InspectMemoryLimit)", Kept.Count, Read, file, Dropped, Capacity, MiB(MaxBytes)));
        }
        if (TooLarge > 0)
        {
            parts.Add(string.Format(c, "skipped {0:N0} entr{1} of '{2}' larger than the whole capture budget ({3} MiB)", TooLarge, TooLarge == 1 ? "y" : "ies", file, MiB(MaxEntryBytes)));
        }
        if (OthersDropped > 0)
        {
            parts.Add(string.Format(c, "dropped {0:N0} older request(s) captured by tunnels, which share that budget", OthersDropped));
        }
        var text = "Import-TunnelRequest " + string.Join("; ", parts) + ".";
        return text;
    }

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.##", CultureInfo.InvariantCulture);
}
