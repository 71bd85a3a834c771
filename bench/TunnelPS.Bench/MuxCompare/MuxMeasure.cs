namespace TunnelPS.Bench.MuxCompare;

/// <summary>One figure of the comparison: its row title, unit, and which way is better (null: neither, it explains others).</summary>
internal sealed record MuxMeasure(string Key, string Title, string Unit, bool? HigherIsBetter)
{
    public static readonly MuxMeasure ExchangeRate = new("rr-rate", "32 streams, 1 KiB each way: exchanges/s", "/s", true);
    public static readonly MuxMeasure ExchangeCpu = new("rr-cpu", "32 streams: CPU per exchange", "µs", false);
    public static readonly MuxMeasure ExchangeCores = new("rr-cores", "32 streams: CPU cores the process used", "", null);
    public static readonly MuxMeasure ExchangeWrites = new("rr-writes", "32 streams: socket writes per exchange", "", false);
    public static readonly MuxMeasure ExchangeReads = new("rr-reads", "32 streams: socket reads per exchange", "", false);
    public static readonly MuxMeasure ExchangeAllocation = new("rr-alloc", "32 streams: allocated per exchange", "B", false);
    public static readonly MuxMeasure NewMedian = new("new-median", "new stream (open, 1 KiB each way, close): median", "µs", false);
    public static readonly MuxMeasure NewP99 = new("new-p99", "new stream: p99", "µs", false);
    public static readonly MuxMeasure NewCpu = new("new-cpu", "new stream: CPU per stream", "µs", false);
    public static readonly MuxMeasure NewWrites = new("new-writes", "new stream: socket writes per stream", "", false);
    public static readonly MuxMeasure NewAllocation = new("new-alloc", "new stream: allocated per stream", "B", false);
    public static readonly MuxMeasure BulkRate = new("bulk-rate", "bulk, one stream one way: MB/s", "MB/s", true);
    public static readonly MuxMeasure BulkCpu = new("bulk-cpu", "bulk: CPU per GiB", "s", false);
    public static readonly MuxMeasure FairAlone = new("fair-alone", "8 streams downloading, no stalled stream: MB/s", "MB/s", true);
    public static readonly MuxMeasure FairStalled = new("fair-stalled", "8 streams beside one whose reader stalls: MB/s", "MB/s", true);
    public static readonly MuxMeasure FairRatio = new("fair-ratio", "8 streams: beside a stalled one / alone", "", true);

    public static readonly IReadOnlyList<MuxMeasure> All =
    [
        ExchangeRate, ExchangeCpu, ExchangeCores, ExchangeWrites, ExchangeReads, ExchangeAllocation, NewMedian, NewP99, NewCpu, NewWrites, NewAllocation, BulkRate, BulkCpu, FairAlone, FairStalled, FairRatio,
    ];
}
