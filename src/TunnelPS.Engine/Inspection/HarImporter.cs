using System.Globalization;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Imports a HAR file into a capture store as it reads it (<see cref="HarReader.ReadEntries"/>): one entry is held
/// at a time besides what the store keeps, and the store keeps within its limits (and its shared
/// <see cref="CaptureBudget"/>) as it does for live traffic, the oldest going first. An entry larger than the whole
/// budget is skipped unread. The result says what is kept and what was dropped.
/// </summary>
public static class HarImporter
{
    /// <exception cref="TunnelException">The file is not a HAR archive, or an entry is malformed (those before it are imported).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (those read are imported).</exception>
    public static HarImportResult Import(Stream stream, CaptureStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(store);
        var budget = store.Budget;
        // The most the store may hold: its own limit, or the shared budget's where that is lower.
        var limit = budget is { Limit: > 0 } ? Math.Min(store.MaxBytes, budget.Limit) : store.MaxBytes;
        var maxEntryBytes = (int)Math.Clamp(limit, 1024, int.MaxValue / 2);
        var others = OthersDropped(store, budget);
        var progress = new HarReadProgress();
        long firstId = 0, lastId = 0;
        try
        {
            foreach (var exchange in HarReader.ReadEntries(stream, progress, maxEntryBytes))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var stored = store.AddOwned(exchange);
                firstId = firstId == 0 ? stored.Id : firstId;
                lastId = stored.Id;
            }
        }
        catch (TunnelException ex) when (progress.Read > 0)
        {
            throw new TunnelException(string.Format(CultureInfo.InvariantCulture, "{0} The {1:N0} entries before it were imported (the newest kept within the capture's limits).", ex.Message, progress.Read), ex);
        }
        var kept = firstId == 0 ? [] : store.Snapshot().Where(e => e.Id >= firstId && e.Id <= lastId).ToList();
        return new HarImportResult
        {
            Read = progress.Read,
            Kept = kept,
            TooLarge = progress.Skipped,
            MaxEntryBytes = maxEntryBytes,
            OthersDropped = OthersDropped(store, budget) - others,
            Capacity = store.Capacity,
            MaxBytes = limit,
        };
    }

    /// <summary>Exchanges dropped so far by the other stores that share the budget.</summary>
    private static long OthersDropped(CaptureStore store, CaptureBudget? budget) =>
        budget is null ? 0 : budget.Stores.Where(s => !ReferenceEquals(s, store)).Sum(s => s.Dropped);
}
