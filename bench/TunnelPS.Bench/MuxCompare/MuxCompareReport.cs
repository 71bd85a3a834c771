using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// The comparison's figures: for each measure and variant the value of every round; printed as the median with the
/// spread (lowest–highest round), with the ratios MuxLink / raw TLS, Nerdbank / raw TLS and MuxLink / Nerdbank.
/// </summary>
internal sealed class MuxCompareReport
{
    private readonly List<string> _variants = [];
    private readonly Dictionary<(string Measure, string Variant), List<double>> _values = [];
    private readonly List<(string Key, string Value)> _facts = [];
    private readonly List<string> _notes = [];

    public void Variants(IEnumerable<IMuxVariant> variants) => _variants.AddRange(variants.Select(v => v.Name));

    public void Fact(string key, string value)
    {
        _facts.Add((key, value));
        Console.WriteLine($"{key}: {value}");
    }

    public void Note(string note)
    {
        _notes.Add(note);
        Console.WriteLine("note: " + note);
    }

    public void Add(MuxMeasure measure, IMuxVariant variant, double value)
    {
        if (!_values.TryGetValue((measure.Key, variant.Name), out var list))
        {
            _values[(measure.Key, variant.Name)] = list = [];
        }
        list.Add(value);
        Console.WriteLine($"  {variant.Name,-12} {measure.Title}: {Format(value, measure.Unit)}");
    }

    public double Median(MuxMeasure measure, string variant) =>
        _values.TryGetValue((measure.Key, variant), out var list) ? DataPath.Stats.Median(list) : double.NaN;

    private string Cell(MuxMeasure measure, string variant)
    {
        if (!_values.TryGetValue((measure.Key, variant), out var list) || list.Count == 0)
        {
            return "-";
        }
        var median = DataPath.Stats.Median(list);
        return list.Count == 1
            ? Format(median, measure.Unit)
            : $"{Format(median, measure.Unit)} ({Format(list.Min(), "")}–{Format(list.Max(), "")})";
    }

    private string Ratio(MuxMeasure measure, string a, string b)
    {
        var r = Median(measure, a) / Median(measure, b);
        return double.IsNaN(r) || double.IsInfinity(r) ? "-" : r.ToString("0.00", CultureInfo.InvariantCulture);
    }

    public static string Format(double value, string unit) => double.IsNaN(value)
        ? "-"
        : value.ToString(Math.Abs(value) >= 100 ? "0" : Math.Abs(value) >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + (unit.Length > 0 && unit != "/s" ? " " + unit : "");

    public string ToMarkdown()
    {
        var mux = _variants[0];
        var nerdbank = _variants[1];
        var raw = _variants[2];
        var md = new StringBuilder();
        md.AppendLine("# TunnelPS multiplexer comparison: MuxLink against Nerdbank.Streams' MultiplexingStream");
        md.AppendLine();
        foreach (var (key, value) in _facts)
        {
            md.AppendLine($"- {key}: {value}");
        }
        md.AppendLine();
        md.AppendLine("Each cell: the median of the rounds (lowest–highest round). Ratios are of the medians.");
        md.AppendLine();
        md.AppendLine($"| measure | {mux} | {nerdbank} | {raw} | {mux} / {raw} | {nerdbank} / {raw} | {mux} / {nerdbank} | better |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var measure in MuxMeasure.All.Where(m => _variants.Any(v => _values.ContainsKey((m.Key, v)))))
        {
            md.AppendLine($"| {measure.Title} | {Cell(measure, mux)} | {Cell(measure, nerdbank)} | {Cell(measure, raw)} | {Ratio(measure, mux, raw)} | {Ratio(measure, nerdbank, raw)} | {Ratio(measure, mux, nerdbank)} | {measure.HigherIsBetter switch { true => "higher", false => "lower", null => "-" }} |");
        }
        md.AppendLine();
        foreach (var note in _notes)
        {
            md.AppendLine("- " + note);
        }
        return md.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(
        new
        {
            facts = _facts.ToDictionary(f => f.Key, f => f.Value),
            variants = _variants,
            measures = MuxMeasure.All.Select(m => new
            {
                key = m.Key,
                title = m.Title,
                unit = m.Unit,
                higherIsBetter = m.HigherIsBetter,
                rounds = _variants.ToDictionary(v => v, v => _values.TryGetValue((m.Key, v), out var list) ? list : []),
                medians = _variants.ToDictionary(v => v, v => Median(m, v)),
            }),
            notes = _notes,
        },
        new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });

    /// <summary>Writes muxcompare-&lt;time&gt;.md and .json into <paramref name="folder"/>; returns the two paths.</summary>
    public (string Markdown, string Json) Write(string folder, DateTime started)
    {
        Directory.CreateDirectory(folder);
        var stem = Path.Combine(folder, "muxcompare-" + started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".md", ToMarkdown());
        File.WriteAllText(stem + ".json", ToJson());
        return (stem + ".md", stem + ".json");
    }
}
