using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>Completes -Name of Get-Tunnel and Stop-Tunnel with the names of this session's tunnels.</summary>
/// <remarks>
/// The typed text is a wildcard prefix (quotes stripped); results are quoted when they need
/// it, as SecretManagement's VaultNameCompleter does.
/// </remarks>
public sealed class TunnelNameCompleter : IArgumentCompleter
{
    /// <summary>Names matching <paramref name="wordToComplete"/>*, each once, in start order.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
        var pattern = new WildcardPattern(typed + "*", WildcardOptions.IgnoreCase);
        return SessionRegistry.Tunnels
            .Select(t => t.Name)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name))
            .ToList();
    }

    private static string Quote(string name) =>
        name.Any(c => char.IsWhiteSpace(c) || "'\"`$&@(){}[];,|<>#*?".Contains(c))
            ? "'" + CodeGeneration.EscapeSingleQuotedStringContent(name) + "'"
            : name;
}
