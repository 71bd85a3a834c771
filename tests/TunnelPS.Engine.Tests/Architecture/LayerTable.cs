namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// A declared layer order for the folders (namespaces) of one assembly: levels lowest first, folders of a level side
/// by side. A reference from one folder to another is allowed only downwards.
/// </summary>
internal sealed class LayerTable
{
    private readonly string _rootNamespace;
    private readonly string _rootLabel;
    private readonly string _name;
    private readonly Dictionary<string, int> _levels = new(StringComparer.Ordinal);
    private readonly string[][] _table;

    /// <param name="name">What the table is called in messages.</param>
    /// <param name="rootNamespace">The namespace whose direct child namespaces are the folders (the folder "" is the root namespace itself).</param>
    /// <param name="rootLabel">What the root namespace's own folder is called in messages.</param>
    /// <param name="levels">Folders by level, lowest first.</param>
    public LayerTable(string name, string rootNamespace, string rootLabel, string[][] levels)
    {
        _name = name;
        _rootNamespace = rootNamespace;
        _rootLabel = rootLabel;
        _table = levels;
        for (var level = 0; level < levels.Length; level++)
        {
            foreach (var folder in levels[level])
            {
                _levels.Add(folder, level);
            }
        }
    }

    /// <summary>
    /// Every reference that goes up or sideways, and every folder the table does not list, one line each, sorted
    /// ("From -> To (up): Type, member, uses Target"). References to types outside the root namespace (compiler
    /// and source-generator support types) are not a folder's and are skipped.
    /// </summary>
    public List<string> Violations(IEnumerable<TypeReferenceFound> references)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var reference in references)
        {
            if (FolderOf(reference.Namespace) is not { } from || FolderOf(reference.TargetNamespace) is not { } to)
            {
                continue;
            }
            if (!_levels.TryGetValue(from, out var fromLevel))
            {
                found.Add($"{Shown(from)}: folder not in the layer table ({reference.Type}); add it to the table and to docs/architecture.md");
                continue;
            }
            if (!_levels.TryGetValue(to, out var toLevel))
            {
                found.Add($"{Shown(to)}: folder not in the layer table ({reference.Target}); add it to the table and to docs/architecture.md");
                continue;
            }
            if (from != to && toLevel >= fromLevel)
            {
                var how = toLevel == fromLevel ? "same level" : "up";
                found.Add($"{Shown(from)} -> {Shown(to)} ({how}): {reference.Type}, {reference.Member}, uses {reference.Target}");
            }
        }
        return [.. found];
    }

    public override string ToString() =>
        _name + ": " + string.Join(" < ", _table.Select(level => string.Join(", ", level.Select(Shown))));

    /// <summary>The folder of a namespace: its first part under the root ("" for the root), or null outside the root.</summary>
    private string? FolderOf(string ns)
    {
        if (ns == _rootNamespace)
        {
            return "";
        }
        if (!ns.StartsWith(_rootNamespace + ".", StringComparison.Ordinal))
        {
            return null;
        }
        var rest = ns[(_rootNamespace.Length + 1)..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    private string Shown(string folder) => folder.Length == 0 ? _rootLabel : folder;
}
