namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Finds and reads the agent config (<see cref="AgentConfig"/>). Every problem is a <see cref="ConfigurationException"/>
/// whose message reads <c>file:line:column: what was wrong. what to do</c>.
/// </summary>
public static class AgentConfigLoader
{
    /// <summary>The environment variable that overrides the default path.</summary>
    public const string EnvironmentVariable = "TUNNELPS_CONFIG";

    /// <summary>The largest config file read (1 MiB).</summary>
    public const int MaxFileLength = 1024 * 1024;

    /// <summary>
    /// The config path when none is given: <c>$env:TUNNELPS_CONFIG</c> if set (a leading <c>~</c> is expanded), else
    /// <c>~/.tunnelps/tunnelps.yml</c> under the user profile.
    /// </summary>
    /// <param name="getEnv">Reads an environment variable; defaults to the process environment.</param>
    public static string DefaultPath(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        var fromEnvironment = getEnv(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return ExpandHome(fromEnvironment.Trim());
        }
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".tunnelps", "tunnelps.yml");
    }

    /// <summary>The explicit path when given (a leading <c>~</c> expanded), else <see cref="DefaultPath"/>.</summary>
    public static string ResolvePath(string? explicitPath, Func<string, string?>? getEnv = null) =>
        string.IsNullOrWhiteSpace(explicitPath) ? DefaultPath(getEnv) : ExpandHome(explicitPath.Trim());

    /// <summary>Reads and validates the file.</summary>
    /// <exception cref="ConfigurationException">Kind NotFound when the file does not exist; InvalidConfiguration for everything else.</exception>
    public static AgentConfig Load(string path)
    {
        var text = ConfigFileText.Read(path, MaxFileLength, "config file", "Create it, point $env:TUNNELPS_CONFIG at an existing file, or pass the path of one.");
        return Parse(text, path);
    }

    /// <summary>Like <see cref="Load"/>, but a missing file gives an empty config (with <see cref="AgentConfig.SourcePath"/> set).</summary>
    public static AgentConfig LoadIfExists(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return File.Exists(path) ? Load(path) : AgentConfig.Empty with { SourcePath = path };
    }

    /// <summary>Parses config text; <paramref name="sourceName"/> names it in messages. Empty text is an empty config.</summary>
    public static AgentConfig Parse(string yaml, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        var root = ConfigYamlReader.Read(yaml, sourceName);
        return new AgentConfigReader(sourceName).ReadAgent(root);
    }

    private static string ExpandHome(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return path.Length == 1 ? home : Path.Combine(home, path[2..]);
        }
        return path;
    }

    /// <summary>The known key closest to <paramref name="key"/> if it is a plausible typo (case-insensitive edit distance).</summary>
    internal static string? Suggest(string key, IEnumerable<string> known) => SpellingSuggestion.ClosestKey(key, known);

    /// <summary>
    /// The name in <paramref name="known"/> closest to <paramref name="name"/> if it is a plausible typo (a tunnel
    /// name: case-insensitive edit distance, as for keys, but with no other spelling folded), or null.
    /// </summary>
    public static string? SuggestName(string name, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(known);
        return SpellingSuggestion.ClosestName(name, known);
    }
}
