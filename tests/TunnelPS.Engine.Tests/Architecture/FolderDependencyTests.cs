using System.Text.RegularExpressions;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// The engine's folders depend on each other in one direction only (ARCHITECTURE.md's layout): read from the sources,
/// every reference to another folder's namespace is an edge, and the graph has no cycle.
/// </summary>
public sealed partial class FolderDependencyTests
{
    [Fact]
    public void The_engine_s_folders_form_no_cycle()
    {
        var edges = Edges();
        foreach (var start in edges.Keys)
        {
            var path = FindCycle(start, edges, [], []);
            Assert.True(path is null, $"The engine's folders depend on each other in a cycle: {string.Join(" -> ", path ?? [])}");
        }
    }

    [Theory]
    [InlineData("Transport", "Inspection")]
    [InlineData("Diagnostics", "Server")]
    [InlineData("Diagnostics", "Client")]
    [InlineData("Server", "Client")]
    [InlineData("Client", "Server")]
    [InlineData("Configuration", "Server")]
    [InlineData("Configuration", "Inspector")]
    [InlineData("Http", "Server")]
    [InlineData("Http", "Client")]
    [InlineData("Client", "Display")]
    [InlineData("Inspection", "Display")]
    [InlineData("Server", "Display")]
    [InlineData("Cluster", "Server")]
    [InlineData("Cluster", "Client")]
    public void A_lower_folder_does_not_reach_up(string from, string to)
    {
        var edges = Edges();
        Assert.False(edges.TryGetValue(from, out var targets) && targets.Contains(to),
            $"{from} references TunnelPS.Engine.{to}: {string.Join(", ", Where(from, to))}");
    }

    private static Dictionary<string, HashSet<string>> Edges()
    {
        var edges = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (folder, _, target) in References())
        {
            if (!edges.TryGetValue(folder, out var targets))
            {
                edges[folder] = targets = new HashSet<string>(StringComparer.Ordinal);
            }
            targets.Add(target);
        }
        return edges;
    }

    private static IEnumerable<string> Where(string from, string to) =>
        References().Where(r => r.Folder == from && r.Target == to).Select(r => r.File).Distinct().Take(5);

    private static IEnumerable<(string Folder, string File, string Target)> References()
    {
        var engine = Path.Combine(RepositoryRoot(), "src", "TunnelPS.Engine");
        foreach (var file in Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(engine, file).Replace('\\', '/');
            if (relative.StartsWith("obj/", StringComparison.Ordinal) || relative.StartsWith("bin/", StringComparison.Ordinal) || !relative.Contains('/', StringComparison.Ordinal))
            {
                continue;
            }
            var folder = relative[..relative.IndexOf('/', StringComparison.Ordinal)];
            foreach (var line in File.ReadLines(file))
            {
                if (line.StartsWith("namespace ", StringComparison.Ordinal))
                {
                    continue;
                }
                foreach (Match match in EngineNamespace().Matches(line))
                {
                    var target = match.Groups[1].Value;
                    if (target != folder)
                    {
                        yield return (folder, relative, target);
                    }
                }
            }
        }
    }

    private static List<string>? FindCycle(string node, Dictionary<string, HashSet<string>> edges, List<string> path, HashSet<string> done)
    {
        var at = path.IndexOf(node);
        if (at >= 0)
        {
            return [.. path.Skip(at), node];
        }
        if (!done.Add(node))
        {
            return null;
        }
        path.Add(node);
        foreach (var next in edges.GetValueOrDefault(node) ?? [])
        {
            if (FindCycle(next, edges, path, done) is { } cycle)
            {
                return cycle;
            }
        }
        path.RemoveAt(path.Count - 1);
        return null;
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TunnelPS.sln")))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException("TunnelPS.sln was not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"TunnelPS\.Engine\.([A-Za-z]+)\b")]
    private static partial Regex EngineNamespace();
}
