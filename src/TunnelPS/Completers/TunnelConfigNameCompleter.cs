using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Start-Tunnel -Name with the tunnel names of the effective config file: -ConfigPath when it is
/// bound, else $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml.
/// </summary>
/// <remarks>
/// The typed text is a wildcard prefix (quotes stripped); results are quoted when they need it. A missing or
/// invalid file completes nothing (the command itself reports the problem).
/// </remarks>
public sealed class TunnelConfigNameCompleter : IArgumentCompleter
{
    /// <summary>Config tunnel names matching <paramref name="wordToComplete"/>*, in file order.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        string? configPath = fakeBoundParameters?["ConfigPath"] as string;
        IReadOnlyList<string> names;
        try
        {
            names = ReadNames(configPath);
        }
#pragma warning disable CA1031 // A completer must never throw at the user.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }

        string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
        var pattern = new WildcardPattern(typed + "*", WildcardOptions.IgnoreCase);
        return names
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name))
            .ToList();
    }

    // Separate method so that the engine types are only needed once completion actually runs.
    private static IReadOnlyList<string> ReadNames(string? configPath)
    {
        string path = AgentConfigLoader.ResolvePath(configPath);
        return AgentConfigLoader.LoadIfExists(path).Tunnels.Select(t => t.Name).ToList();
    }

    private static string Quote(string name) =>
        name.Any(c => char.IsWhiteSpace(c) || "'\"`$&@(){}[];,|<>#*?".Contains(c))
            ? "'" + CodeGeneration.EscapeSingleQuotedStringContent(name) + "'"
            : name;
}
