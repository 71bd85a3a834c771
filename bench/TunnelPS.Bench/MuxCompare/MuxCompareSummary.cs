using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// "--mux-compare --summarize FILE.json ...": several runs' results in one table, each cell the median of the runs'
/// medians with the lowest and highest run, the ratios of those medians, and each run's load average.
/// </summary>
internal static class MuxCompareSummary
{
    public static int Run(IReadOnlyList<string> files, string resultsFolder)
    {
        if (files.Count == 0)
        {
            Console.Error.WriteLine("--summarize takes the .json files of the runs (bench/results/muxcompare-*.json).");
            return 2;
        }
        var runs = new List<JsonDocument>();
        foreach (var file in files)
        {
            try
            {
                runs.Add(JsonDocument.Parse(File.ReadAllText(file)));
            }
            catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"--summarize: cannot read '{file}': {ex.Message}");
                return 2;
            }
        }
        var variants = runs[0].RootElement.GetProperty("variants").EnumerateArray().Select(v => v.GetString()!).ToArray();
        var md = new StringBuilder();
        md.AppendLine($"# TunnelPS multiplexer comparison: {runs.Count} runs");
        md.AppendLine();
        for (var i = 0; i < runs.Count; i++)
        {
            var facts = runs[i].RootElement.GetProperty("facts");
            string Fact(string key) => facts.TryGetProperty(key, out var value) ? value.GetString() ?? "?" : "?";
            md.AppendLine($"- run {i + 1}: {Path.GetFileName(files[i])}, {Fact("mode").Split(':')[0]}, commit {Fact("commit")}, started {Fact("started (UTC)")} UTC, {Fact("machine")}, load average at end {Fact("load average at end")}");
        }
        md.AppendLine();
        md.AppendLine("Each cell: the median of the runs' medians (lowest–highest run). Ratios are of those medians.");
        md.AppendLine();
        md.AppendLine($"| measure | {string.Join(" | ", variants)} | {variants[0]} / {variants[2]} | {variants[1]} / {variants[2]} | {variants[0]} / {variants[1]} | better |");
        md.AppendLine($"| --- |{string.Concat(Enumerable.Repeat(" ---: |", variants.Length + 3))} --- |");
        foreach (var measure in runs[0].RootElement.GetProperty("measures").EnumerateArray())
        {
            var key = measure.GetProperty("key").GetString()!;
            var unit = measure.GetProperty("unit").GetString()!;
            var perVariant = variants.Select(v => runs.Select(r => MedianOf(r, key, v)).Where(x => !double.IsNaN(x)).ToArray()).ToArray();
            if (perVariant.All(values => values.Length == 0))
            {
                continue;
            }
            var medians = perVariant.Select(values => DataPath.Stats.Median(values)).ToArray();
            var cells = perVariant.Select((values, i) => values.Length == 0
                ? "-"
                : $"{MuxCompareReport.Format(medians[i], unit)} ({MuxCompareReport.Format(values.Min(), "")}–{MuxCompareReport.Format(values.Max(), "")})");
            var better = measure.GetProperty("higherIsBetter") switch
            {
                { ValueKind: JsonValueKind.True } => "higher",
                { ValueKind: JsonValueKind.False } => "lower",
                _ => "-",
            };
            md.AppendLine($"| {measure.GetProperty("title").GetString()} | {string.Join(" | ", cells)} | {Ratio(medians[0], medians[2])} | {Ratio(medians[1], medians[2])} | {Ratio(medians[0], medians[1])} | {better} |");
        }
        var text = md.ToString();
        Console.WriteLine(text);
        Directory.CreateDirectory(resultsFolder);
        var path = Path.Combine(resultsFolder, "muxcompare-summary-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".md");
        File.WriteAllText(path, text);
        Console.WriteLine($"Written: {path}");
        return 0;
    }

    private static double MedianOf(JsonDocument run, string key, string variant)
    {
        foreach (var measure in run.RootElement.GetProperty("measures").EnumerateArray())
        {
            if (measure.GetProperty("key").GetString() == key && measure.GetProperty("medians").TryGetProperty(variant, out var value))
            {
                return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;
            }
        }
        return double.NaN;
    }

    private static string Ratio(double a, double b)
    {
        var r = a / b;
        return double.IsNaN(r) || double.IsInfinity(r) ? "-" : r.ToString("0.00", CultureInfo.InvariantCulture);
    }
}
