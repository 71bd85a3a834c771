using System.Management.Automation;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Commands;

/// <summary>The request filters Get-TunnelRequest and Wait-TunnelRequest share; an empty filter matches everything.</summary>
internal sealed class TunnelRequestFilter
{
    private readonly WildcardPattern[]? _tunnels;
    private readonly HashSet<string>? _methods;
    private readonly WildcardPattern? _path;
    private readonly HashSet<int>? _statuses;
    private readonly HashSet<long>? _ids;

    internal TunnelRequestFilter(string[]? tunnel, string[]? method, string? path, int[]? status, long[]? id = null)
    {
        _tunnels = tunnel is { Length: > 0 } ? tunnel.Select(t => WildcardPattern.Get(t, WildcardOptions.IgnoreCase)).ToArray() : null;
        _methods = method is { Length: > 0 } ? new HashSet<string>(method, StringComparer.OrdinalIgnoreCase) : null;
        _path = string.IsNullOrEmpty(path) ? null : WildcardPattern.Get(path, WildcardOptions.IgnoreCase);
        _statuses = status is { Length: > 0 } ? [.. status] : null;
        _ids = id is { Length: > 0 } ? [.. id] : null;
    }

    /// <summary>Whether <paramref name="exchange"/> passes every filter given.</summary>
    internal bool IsMatch(CapturedExchange exchange)
    {
        if (_ids is not null && !_ids.Contains(exchange.Id))
        {
            return false;
        }

        if (_tunnels is not null && !_tunnels.Any(t => t.IsMatch(exchange.TunnelName)))
        {
            return false;
        }

        if (_methods is not null && !_methods.Contains(exchange.Method))
        {
            return false;
        }

        if (_statuses is not null && !_statuses.Contains(exchange.Status))
        {
            return false;
        }

        // The pattern is tried against the path, then the whole target (so '/api/*?x=1' works too).
        return _path is null || _path.IsMatch(exchange.Path) || _path.IsMatch(exchange.Target);
    }
}
