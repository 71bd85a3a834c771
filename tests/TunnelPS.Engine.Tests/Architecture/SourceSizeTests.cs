using Microsoft.CodeAnalysis.CSharp;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// A size budget for the sources under src/ (read as C# syntax, not compiled): no file over
/// <see cref="MaxFileLines"/> lines, no method, accessor, local function or lambda over <see cref="MaxMethodLines"/>,
/// except the entries of SourceSizeAllowList.txt next to this file, and no more empty catch bodies than the budget
/// that list holds. The list only shrinks: an entry that no longer offends fails the test until it is removed.
/// </summary>
public sealed class SourceSizeTests(ITestOutputHelper output)
{
    public const int MaxFileLines = 400;
    public const int MaxMethodLines = 60;

    [Fact]
    public void Files_and_methods_stay_within_the_budget_or_are_on_the_allow_list()
    {
        var allow = SourceSizeAllowList.Read(AllowListPath());
        var offenders = new SortedDictionary<string, string>(StringComparer.Ordinal);
        int files = 0, methods = 0;
        foreach (var (path, tree) in Sources())
        {
            if (SourceSizes.FileLines(tree) is var lines and > MaxFileLines)
            {
                files++;
                offenders[path] = $"{path}: {lines} lines (at most {MaxFileLines})";
            }
            foreach (var (name, length) in SourceSizes.Methods(tree).Where(m => m.Lines > MaxMethodLines))
            {
                methods++;
                offenders.TryAdd(name, $"{name} ({path}): {length} lines (at most {MaxMethodLines})");
            }
        }
        output.WriteLine($"Files over {MaxFileLines} lines: {files}; methods over {MaxMethodLines} lines: {methods}; allow-list entries: {allow.Entries.Count}.");

        var unlisted = offenders.Where(o => !allow.Entries.ContainsKey(o.Key)).Select(o => o.Value).ToList();
        var stale = allow.Entries.Keys.Where(e => !offenders.ContainsKey(e)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unlisted.Count == 0 && stale.Count == 0,
            (unlisted.Count == 0 ? "" : $"Over the size budget (split along the seams; a parser's state machine may be listed with the reason \"parser state machine: ...\"):{Environment.NewLine}{string.Join(Environment.NewLine, unlisted)}{Environment.NewLine}") +
            (stale.Count == 0 ? "" : $"Within the budget now, remove from SourceSizeAllowList.txt:{Environment.NewLine}{string.Join(Environment.NewLine, stale)}"));
    }

    [Fact]
    public void Empty_catch_bodies_do_not_grow_past_the_budget()
    {
        var budget = SourceSizeAllowList.Read(AllowListPath()).EmptyCatchBudget;
        var empty = Sources().SelectMany(s => SourceSizes.EmptyCatches(s.Tree).Select(line => $"{s.Path}:{line}")).ToList();
        output.WriteLine($"Empty catch bodies: {empty.Count} (budget {budget}).");
        foreach (var place in empty)
        {
            output.WriteLine(place);
        }

        Assert.True(empty.Count <= budget,
            $"{empty.Count} empty catch bodies, more than the budget of {budget} in SourceSizeAllowList.txt: a catch handles, logs at Debug with the reason, or is removed.{Environment.NewLine}{string.Join(Environment.NewLine, empty)}");
        if (empty.Count < budget)
        {
            output.WriteLine($"Fewer than the budget: lower empty-catch-budget to {empty.Count}.");
        }
    }

    [Fact]
    public void Sizes_are_counted_from_the_syntax()
    {
        var tree = CSharpSyntaxTree.ParseText("""
            namespace N;
            public sealed class T
            {
                public int P { get { return 1; } }
                public void M()
                {
                    try { M(); } catch { }
                    try { M(); } catch (System.Exception) { /* why */ }
                    System.Action a = () =>
                    {
                    };
                    void Local() { }
                }
            }
            """);

        Assert.Equal(14, SourceSizes.FileLines(tree));
        Assert.Equal(
            [("N.T.P.get", 1), ("N.T.M", 9), ("N.T.M.lambda", 3), ("N.T.M.Local", 1)],
            SourceSizes.Methods(tree).ToList());
        Assert.Equal([7], SourceSizes.EmptyCatches(tree).ToList());
    }

    [Fact]
    public void The_allow_list_reads_entries_reasons_and_the_catch_budget()
    {
        var list = SourceSizeAllowList.Parse([
            "# comment",
            "empty-catch-budget: 12",
            "src/A.cs | to split (issue 18)",
            "N.T.Advance | parser state machine: one switch over the chunk states",
        ]);

        Assert.Equal(12, list.EmptyCatchBudget);
        Assert.Equal("to split (issue 18)", list.Entries["src/A.cs"]);
        Assert.Equal("parser state machine: one switch over the chunk states", list.Entries["N.T.Advance"]);
        Assert.Throws<FormatException>(() => SourceSizeAllowList.Parse(["src/B.cs"]));
        Assert.Throws<FormatException>(() => SourceSizeAllowList.Parse(["src/B.cs | because"]));
    }

    private static string AllowListPath() =>
        Path.Combine(BuiltAssembly.RepositoryRoot(), "tests", "TunnelPS.Engine.Tests", "Architecture", "SourceSizeAllowList.txt");

    private static IEnumerable<(string Path, Microsoft.CodeAnalysis.SyntaxTree Tree)> Sources()
    {
        var root = BuiltAssembly.RepositoryRoot();
        var src = Path.Combine(root, "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }
            yield return (relative, CSharpSyntaxTree.ParseText(File.ReadAllText(file), path: relative));
        }
    }
}
