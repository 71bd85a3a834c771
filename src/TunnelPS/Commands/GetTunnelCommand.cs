using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary><c>Get-Tunnel</c>: lists the tunnels (one object per public URL) opened in this PowerShell process.</summary>
[Cmdlet(VerbsCommon.Get, "Tunnel")]
[OutputType(typeof(Tunnel))]
public sealed class GetTunnelCommand : TunnelCmdletBase
{
    /// <summary>Only the tunnels with these names (wildcards allowed).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TunnelNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Writes the matching tunnels, oldest first; a plain name with no tunnel is an error.</summary>
    protected override void ProcessRecord()
    {
        WriteObject(Select(this, Name), enumerateCollection: true);
    }

    /// <summary>
    /// The tunnels of the session matching any of <paramref name="names"/> (all when null), in
    /// registry order, each once; writes TunnelNotFound for a name without wildcards that matches nothing.
    /// </summary>
    internal static List<Tunnel> Select(Cmdlet cmdlet, string[]? names)
    {
        IReadOnlyList<Tunnel> tunnels = SessionRegistry.Tunnels;
        if (names is null)
        {
            return [.. tunnels];
        }

        var selected = new List<Tunnel>();
        foreach (string name in names)
        {
            var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
            var matches = tunnels.Where(t => pattern.IsMatch(t.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                cmdlet.WriteError(new ErrorRecord(
                    new ItemNotFoundException($"No tunnel named '{name}' runs in this session. Get-Tunnel lists them."),
                    ErrorIds.TunnelNotFound,
                    ErrorCategory.ObjectNotFound,
                    name));
            }

            selected.AddRange(matches.Where(t => !selected.Contains(t)));
        }

        return [.. tunnels.Where(selected.Contains)];
    }
}
