using System.Globalization;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// SourceSizeAllowList.txt: "entry | reason" per line (a path under src/ for a file, Namespace.Type.Member for a
/// method), "empty-catch-budget: N" once, "#" comments. A reason is "parser state machine: ..." (allowed for good) or
/// "to split (issue N)".
/// </summary>
internal sealed class SourceSizeAllowList
{
    private const string BudgetKey = "empty-catch-budget:";

    public Dictionary<string, string> Entries { get; } = new(StringComparer.Ordinal);

    public int EmptyCatchBudget { get; private set; }

    public static SourceSizeAllowList Read(string path) => Parse(File.ReadAllLines(path));

    public static SourceSizeAllowList Parse(IEnumerable<string> lines)
    {
        var list = new SourceSizeAllowList();
        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            if (line.StartsWith(BudgetKey, StringComparison.Ordinal))
            {
                list.EmptyCatchBudget = int.Parse(line[BudgetKey.Length..], NumberStyles.None | NumberStyles.AllowLeadingWhite, CultureInfo.InvariantCulture);
                continue;
            }
            var bar = line.IndexOf('|', StringComparison.Ordinal);
            var reason = bar < 0 ? "" : line[(bar + 1)..].Trim();
            if (!reason.StartsWith("parser state machine: ", StringComparison.Ordinal) && !reason.StartsWith("to split (issue ", StringComparison.Ordinal))
            {
                throw new FormatException($"SourceSizeAllowList.txt line {number}: \"{line}\" needs \"entry | reason\", the reason \"parser state machine: why\" or \"to split (issue N)\".");
            }
            list.Entries.Add(line[..bar].Trim(), reason);
        }
        return list;
    }
}
