namespace TunnelPS.Bench.DataPath;

/// <summary>Medians and percentiles of measured samples.</summary>
internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The nearest-rank percentile of an ascending array (p in 0..1).</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Round r's order of the items: forward on even rounds, backward on odd ones (ABBA).</summary>
    public static IEnumerable<T> Interleaved<T>(IReadOnlyList<T> items, int round) => round % 2 == 0 ? items : items.Reverse();
}
