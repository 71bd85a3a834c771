using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>Completes -Port of Get-TunnelServer and Stop-TunnelServer with the TLS ports of this session's servers.</summary>
public sealed class TunnelServerPortCompleter : IArgumentCompleter
{
    /// <summary>Ports that start with <paramref name="wordToComplete"/>, oldest server first, each with its address as tooltip.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        try
        {
            WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
            return SessionRegistry.Servers
                .Select(s => (Server: s, Port: s.Port.ToString(CultureInfo.InvariantCulture)))
                .Where(s => pattern.IsMatch(s.Port))
                .Select(s => CompletionValue.Result(s.Port, $"{s.Server.ServerAddress} ({s.Server.Status}), serving *.{s.Server.Domain}"))
                .ToList();
        }
#pragma warning disable CA1031 // A completer must never throw at the user.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }
}
