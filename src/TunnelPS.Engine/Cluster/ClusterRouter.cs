using System.Collections.Concurrent;
using System.Text.Json;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// Finds the node that serves a name this node does not, for a visitor to be forwarded there. It remembers each
/// answer for <see cref="ClusterOptions.RouteCacheTime"/>, so a new visitor for a known name costs no store lookup; the
/// owner confirms every forwarded connection, and a caller that finds a remembered route stale forgets it and asks
/// again with <c>fresh</c>.
/// </summary>
internal sealed class ClusterRouter(ClusterNode node, TimeProvider time)
{
    /// <summary>The most routes remembered; past it the cache starts again empty (each name costs one lookup again).</summary>
    internal const int DefaultCacheLimit = 10_000;
    private readonly ConcurrentDictionary<string, (string Node, string Run, string Address, long Stored)> _routes = new(StringComparer.OrdinalIgnoreCase);
    private long _lookups;

    /// <summary>How many routes are remembered at most; tests lower it.</summary>
    internal int CacheLimit { get; set; } = DefaultCacheLimit;

    /// <summary>Routes remembered now.</summary>
    internal int CachedRoutes => _routes.Count;

    /// <summary>How many times this node asked the cluster store where a name lives (tests count them).</summary>
    internal long Lookups => Interlocked.Read(ref _lookups);

    /// <summary>
    /// Where a visitor for <paramref name="host"/>, which this node does not serve, must go: to the node that serves
    /// it (over the link to it), a 503 while its client is away, a 404 when no node holds it. Unless
    /// <paramref name="fresh"/>, a route remembered from an earlier lookup is used without asking the store.
    /// </summary>
    public async Task<NodeRoute> RouteAsync(string host, bool fresh, CancellationToken cancellationToken)
    {
        if (!fresh && _routes.TryGetValue(host, out var cached) && time.GetElapsedTime(cached.Stored) < node.Options.RouteCacheTime)
        {
            try
            {
                var known = await node.Links.GetAsync(cached.Node, cached.Run, cached.Address).WaitAsync(cancellationToken).ConfigureAwait(false);
                return new NodeRoute(NodeRouteKind.Remote, known, cached.Node, Cached: true);
            }
            catch (IOException)
            {
                Forget(host);
            }
        }
        Interlocked.Increment(ref _lookups);
        ClusterLeaseHolder? holder;
        try
        {
            holder = await node.FindAsync(ClusterLease.HostKey(host), cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            return new NodeRoute(NodeRouteKind.Unavailable, Problem: ex.Message);
        }
        if (holder is { Forgery: { } why })
        {
            // Not signed under this node's cluster secret: not obeyed, and not taken for a free name either.
            Forget(host);
            node.ReportForgery(ClusterLease.HostKey(host), holder.Node, why);
            return new NodeRoute(NodeRouteKind.Unavailable, Node: holder.Node, Problem: "the cluster store's lease for " + host + " is forged: " + why);
        }
        if (holder is null)
        {
            Forget(host);
            return new NodeRoute(NodeRouteKind.None);
        }
        if (!holder.Live || !holder.NodeAlive || holder.Node == node.Name || AddressOf(holder.NodeDescription) is not { } address)
        {
            Forget(host);
            // Reserved, or held by a node that stopped (its client is on its way elsewhere), or by this node's
            // previous run: the client is away.
            return new NodeRoute(NodeRouteKind.Reserved, Node: holder.Node);
        }
        try
        {
            var link = await node.Links.GetAsync(holder.Node, holder.Run, address).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (node.Options.RouteCacheTime > TimeSpan.Zero)
            {
                if (_routes.Count >= CacheLimit)
                {
                    TunnelMetrics.LimitReached("route_cache");
                    _routes.Clear();
                }
                _routes[host] = (holder.Node, holder.Run, address, time.GetTimestamp());
            }
            return new NodeRoute(NodeRouteKind.Remote, link, holder.Node);
        }
        catch (IOException ex)
        {
            return new NodeRoute(NodeRouteKind.Unavailable, Node: holder.Node, Problem: ex.Message);
        }
    }

    /// <summary>Forgets where <paramref name="host"/> was served (its node said it no longer serves it, or cannot be reached).</summary>
    public void Forget(string host) => _routes.TryRemove(host, out _);

    private static string? AddressOf(string? description)
    {
        if (description is null)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(description);
            return doc.RootElement.TryGetProperty("address", out var address) ? address.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
