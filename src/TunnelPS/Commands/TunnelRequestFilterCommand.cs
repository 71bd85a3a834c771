using System.Management.Automation;
using TunnelPS.Completers;

namespace TunnelPS.Commands;

/// <summary>
/// The request filters that Get-TunnelRequest and Wait-TunnelRequest share (-Method, -Path, -Status), declared once;
/// PowerShell binds the parameters of a base class as the command's own. -Tunnel stays on each command: it binds
/// from the pipeline on Get-TunnelRequest only.
/// </summary>
public abstract class TunnelRequestFilterCommand : TunnelCmdletBase
{
    /// <summary>Only requests with these methods.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(RequestMethodCompleter))]
    public string[]? Method { get; set; }

    /// <summary>Only requests whose path (or path and query) matches this wildcard pattern.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string? Path { get; set; }

    /// <summary>Only requests answered with these status codes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(RequestStatusCompleter))]
    public int[]? Status { get; set; }

    /// <summary>The filter of these parameters for requests of <paramref name="tunnels"/> (null: any) and <paramref name="ids"/> (null: any).</summary>
    private protected TunnelRequestFilter CreateFilter(string[]? tunnels, long[]? ids = null) =>
        new(tunnels, Method, Path, Status, ids);
}
