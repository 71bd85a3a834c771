using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Bench.DataPath;

/// <summary>
/// One row of the data-path table: the tunnel's figure, the direct path's figure from the same run, their ratio,
/// the issue's target and whether it is met (null where the issue sets none, or the row could not be measured).
/// </summary>
internal sealed record ResultRow(string Measure, string Unit, double? Tunnel, double? Direct, double? Ratio, string Target, bool? Pass, string Note)
{
    public string Verdict => Pass switch { true => "pass", false => "FAIL", null => Tunnel is null ? "skipped" : "-" };
}

/// <summary>Collects the rows and the run's notes; prints the table and writes it as JSON and markdown.</summary>
internal sealed class Report
{
    private readonly List<ResultRow> _rows = [];
    private readonly List<string> _notes = [];
    private readonly Dictionary<string, string> _facts = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(ResultRow row)
    {
        _rows.Add(row);
        Console.WriteLine($"  {row.Measure}: {Format(row.Tunnel, row.Unit)} (direct {Format(row.Direct, row.Unit)}) {row.Verdict} {row.Note}");
    }

    public void Skip(string measure, string why) => Add(new ResultRow(measure, "", null, null, null, "", null, why));

    public void Note(string note)
    {
        _notes.Add(note);
        Console.WriteLine("  note: " + note);
    }

    public void Fact(string key, string value) => _facts[key] = value;

    public static string Format(double? value, string unit) => value switch
    {
        null => "-",
        { } v when double.IsNaN(v) => "-",
        { } v => v.ToString(Math.Abs(v) >= 100 ? "0" : Math.Abs(v) >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + (unit.Length > 0 ? " " + unit : ""),
    };

    private static string FormatRatio(double? ratio) => ratio is { } r && !double.IsNaN(r) ? string.Create(CultureInfo.InvariantCulture, $"{r:0.00}") : "-";

    public string ToText()
    {
        var header = new[] { "measure", "tunnel", "direct", "ratio", "target", "result" };
        var cells = _rows.Select(r => new[] { r.Measure, Format(r.Tunnel, r.Unit), Format(r.Direct, r.Unit), FormatRatio(r.Ratio), r.Target, r.Verdict }).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(i => cells.Select(c => c[i].Length).Append(header[i].Length).Max()).ToArray();
        var text = new StringBuilder();
        void Line(string[] c) => text.AppendLine(string.Join("  ", c.Select((x, i) => i == 0 ? x.PadRight(widths[i]) : x.PadLeft(widths[i]))).TrimEnd());
        foreach (var (key, value) in _facts)
        {
            text.AppendLine($"{key}: {value}");
        }
        text.AppendLine();
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        foreach (var c in cells)
        {
            Line(c);
        }
        text.AppendLine();
        text.AppendLine("Row notes:");
        foreach (var r in _rows.Where(r => r.Note.Length > 0))
        {
            text.AppendLine($"  {r.Measure}: {r.Note}");
        }
        text.AppendLine();
        text.AppendLine("Run notes:");
        foreach (var n in _notes)
        {
            text.AppendLine("  " + n);
        }
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine("# TunnelPS data-path benchmark");
        md.AppendLine();
        foreach (var (key, value) in _facts)
        {
            md.AppendLine($"- {key}: {value}");
        }
        md.AppendLine();
        md.AppendLine("| measure | tunnel | direct | ratio | target | result | note |");
        md.AppendLine("| --- | ---: | ---: | ---: | --- | --- | --- |");
        foreach (var r in _rows)
        {
            md.AppendLine($"| {r.Measure} | {Format(r.Tunnel, r.Unit)} | {Format(r.Direct, r.Unit)} | {FormatRatio(r.Ratio)} | {r.Target} | {r.Verdict} | {r.Note.Replace("|", "/", StringComparison.Ordinal)} |");
        }
        md.AppendLine();
        foreach (var n in _notes)
        {
            md.AppendLine("- " + n);
        }
        return md.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(
        new { facts = _facts, rows = _rows.Select(r => new { r.Measure, r.Unit, r.Tunnel, r.Direct, r.Ratio, r.Target, r.Pass, result = r.Verdict, r.Note }), notes = _notes },
        new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });

    /// <summary>Writes datapath-&lt;time&gt;.json and .md into <paramref name="folder"/>; returns the two paths.</summary>
    public (string Json, string Markdown) Write(string folder, DateTime started)
    {
        Directory.CreateDirectory(folder);
        var stem = Path.Combine(folder, "datapath-" + started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".json", ToJson());
        File.WriteAllText(stem + ".md", ToMarkdown());
        return (stem + ".json", stem + ".md");
    }
}
