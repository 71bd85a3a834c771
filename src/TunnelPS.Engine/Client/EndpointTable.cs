using System.Collections.Concurrent;

namespace TunnelPS.Engine.Client;

/// <summary>
/// The public URLs a client holds: every endpoint it ever opened (in order, for Get-Tunnel), and the live ones by
/// URL, as a visitor's StartProxy or stream names them.
/// </summary>
internal sealed class EndpointTable
{
    private readonly object _gate = new();
    private readonly List<TunnelEndpoint> _endpoints = [];
    private readonly ConcurrentDictionary<string, TunnelEndpoint> _byUrl = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every endpoint, in the order they were opened.</summary>
    public IReadOnlyList<TunnelEndpoint> Snapshot()
    {
        lock (_gate)
        {
            return [.. _endpoints];
        }
    }

    /// <summary>The live endpoint for a public URL (null for an unknown or stopped one).</summary>
    public TunnelEndpoint? FindLive(string url) =>
        _byUrl.TryGetValue(url, out var endpoint) && endpoint.Status != TunnelStatus.Stopped ? endpoint : null;

    /// <summary>The endpoints opened for <paramref name="definition"/>.</summary>
    public List<TunnelEndpoint> Of(TunnelDefinition definition)
    {
        var result = new List<TunnelEndpoint>();
        foreach (var endpoint in Snapshot())
        {
            if (ReferenceEquals(endpoint.Definition, definition))
            {
                result.Add(endpoint);
            }
        }
        return result;
    }

    /// <summary>Records an endpoint opened for the first time.</summary>
    public void Add(TunnelEndpoint endpoint)
    {
        lock (_gate)
        {
            _endpoints.Add(endpoint);
        }
    }

    /// <summary>Routes visitors of <paramref name="url"/> to <paramref name="endpoint"/> (its URL after a reconnect may differ).</summary>
    public void Route(string url, TunnelEndpoint endpoint)
    {
        if (!string.Equals(endpoint.PublicUrl, url, StringComparison.OrdinalIgnoreCase))
        {
            _byUrl.TryRemove(endpoint.PublicUrl, out _);
            endpoint.PublicUrl = url;
        }
        _byUrl[url] = endpoint;
    }

    /// <summary>Stops routing visitors of <paramref name="url"/>.</summary>
    public void Unroute(string url) => _byUrl.TryRemove(url, out _);

    /// <summary>Sets the status of every endpoint (a stopped one stays stopped).</summary>
    public void SetAll(TunnelStatus status, string? reason = null)
    {
        foreach (var endpoint in Snapshot())
        {
            endpoint.SetStatus(status, reason);
        }
    }
}
