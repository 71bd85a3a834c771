using System.Collections.Concurrent;
using System.Text.Json;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// Finds the node that serves a name this node does not, for a visitor to be forwarded there. It remembers each
/// answer for <see cref="ClusterOptions.RouteCacheTime"/>, so a new visitor for a known name costs no store lookup; the
/// owner confirms every forwarded connection, and a caller that finds a remembered route stale forgets it and asks
/// again with <c>fresh</c>. While the store does not answer, it keeps using the last route it knew for a name (the
/// owner's acknowledgement still decides, and a "not here" drops the route), and for a name it knows no route for it
/// asks the other nodes it can reach whether they hold it (<see cref="WhoHolds"/>); only a name no reachable node
/// holds gets a 503.
/// </summary>
internal sealed class ClusterRouter(ClusterNode node, TimeProvider time)
{
    /// <summary>The kind of a node-link stream that asks its node "do you serve this host?"; its address field is the host.</summary>
    internal const string WhoHolds = "cluster:who";

    /// <summary>The most other nodes remembered to ask while the store does not answer (from the store's node list and its routes).</summary>
    internal const int MaxPeers = 64;

    /// <summary>The most "who holds" lookups in flight at once on this node (each asks every remembered peer once); past it, a 503.</summary>
    internal const int MaxPeerLookups = 32;

    private readonly ConcurrentDictionary<string, (string Run, string Address)> _peers = new(StringComparer.Ordinal);
    private int _peerLookups;
    private long _peerQuestions;
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

    /// <summary>How many "who holds" questions this node sent to other nodes (tests count them).</summary>
    internal long PeerQuestions => Interlocked.Read(ref _peerQuestions);

    /// <summary>Other nodes remembered now.</summary>
    internal int PeerCount => _peers.Count;

    /// <summary>
    /// Where a visitor for <paramref name="host"/>, which this node does not serve, must go: to the node that serves
    /// it (over the link to it), a 503 while its client is away, a 404 when no node holds it. Unless
    /// <paramref name="fresh"/>, a route remembered from an earlier lookup is used without asking the store.
    /// </summary>
    public async Task<NodeRoute> RouteAsync(string host, bool fresh, CancellationToken cancellationToken)
    {
        var remembered = _routes.TryGetValue(host, out var cached);
        // While the store is known to be down, the last route known is used however old: no wait for the store's timeout.
        if (!fresh && remembered && (time.GetElapsedTime(cached.Stored) < node.Options.RouteCacheTime || !node.StoreReachable))
        {
            if (await CachedRouteAsync(host, cached, cancellationToken).ConfigureAwait(false) is { } known)
            {
                return known;
            }
            remembered = false;
        }
        if (!node.StoreReachable)
        {
            // Known down since the last heartbeat: the visitor does not wait for the store's timeout again.
            return await AskPeersAsync(host, "the cluster store does not answer", cancellationToken).ConfigureAwait(false);
        }
        Interlocked.Increment(ref _lookups);
        ClusterLeaseHolder? holder;
        try
        {
            holder = await node.FindAsync(ClusterLease.HostKey(host), cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            if (!fresh && remembered && await CachedRouteAsync(host, cached, cancellationToken).ConfigureAwait(false) is { } known)
            {
                return known;
            }
            return await AskPeersAsync(host, ex.Message, cancellationToken).ConfigureAwait(false);
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
        LearnPeer(holder.Node, holder.Run, address);
        try
        {
            var link = await node.Links.GetAsync(holder.Node, holder.Run, address).WaitAsync(cancellationToken).ConfigureAwait(false);
            Remember(host, holder.Node, holder.Run, address);
            return new NodeRoute(NodeRouteKind.Remote, link, holder.Node);
        }
        catch (IOException ex)
        {
            return new NodeRoute(NodeRouteKind.Unavailable, Node: holder.Node, Problem: ex.Message);
        }
    }

    /// <summary>The remembered route's link, or null (and the route forgotten) when its node cannot be reached.</summary>
    private async Task<NodeRoute?> CachedRouteAsync(string host, (string Node, string Run, string Address, long Stored) cached, CancellationToken cancellationToken)
    {
        try
        {
            var known = await node.Links.GetAsync(cached.Node, cached.Run, cached.Address).WaitAsync(cancellationToken).ConfigureAwait(false);
            return new NodeRoute(NodeRouteKind.Remote, known, cached.Node, Cached: true);
        }
        catch (IOException)
        {
            Forget(host);
            return null;
        }
    }

    private void Remember(string host, string peer, string run, string address)
    {
        if (node.Options.RouteCacheTime > TimeSpan.Zero)
        {
            if (_routes.Count >= CacheLimit)
            {
                TunnelMetrics.LimitReached("route_cache");
                _routes.Clear();
            }
            _routes[host] = (peer, run, address, time.GetTimestamp());
        }
    }

    /// <summary>Remembers another node to ask while the store does not answer (at most <see cref="MaxPeers"/>).</summary>
    private void LearnPeer(string peer, string run, string address)
    {
        if (peer == node.Name || (_peers.Count >= MaxPeers && !_peers.ContainsKey(peer)))
        {
            return;
        }
        _peers[peer] = (run, address);
    }

    /// <summary>
    /// Replaces the remembered nodes with the store's list of live nodes (their heartbeats' descriptions); a description
    /// this version cannot read is left out. Called after each heartbeat that reached the store.
    /// </summary>
    public void LearnPeers(IReadOnlyList<string> descriptions)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in descriptions)
        {
            if (Describe(text) is { } peer && peer.Name != node.Name)
            {
                live.Add(peer.Name);
                LearnPeer(peer.Name, peer.Run, peer.Address);
            }
        }
        foreach (var name in _peers.Keys)
        {
            if (!live.Contains(name))
            {
                _peers.TryRemove(name, out _);
            }
        }
    }

    /// <summary>
    /// Asks every remembered node at once whether it serves <paramref name="host"/> now, each answer within the store
    /// timeout; the first that says so gets the visitor (its acknowledgement of the forwarded stream still decides).
    /// A node answers only for itself, so no node can point a name at another; a 503 when none does.
    /// </summary>
    private async Task<NodeRoute> AskPeersAsync(string host, string problem, CancellationToken cancellationToken)
    {
        var unavailable = new NodeRoute(NodeRouteKind.Unavailable, Problem: problem);
        if (_peers.IsEmpty)
        {
            return unavailable;
        }
        if (Interlocked.Increment(ref _peerLookups) > MaxPeerLookups)
        {
            Interlocked.Decrement(ref _peerLookups);
            TunnelMetrics.LimitReached("peer_lookups");
            return unavailable with { Problem = problem + "; and this node already asks the other nodes about " + MaxPeerLookups + " names" };
        }
        try
        {
            using var deadline = new CancellationTokenSource(node.Options.StoreTimeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
            var asks = _peers.Select(p => AskAsync(p.Key, p.Value.Run, p.Value.Address, host, linked.Token)).ToList();
            var pending = new List<Task<(string Node, string Run, string Address, MuxLink Link)?>>(asks);
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending).ConfigureAwait(false);
                pending.Remove(done);
                if (await done.ConfigureAwait(false) is { } found)
                {
                    await linked.CancelAsync().ConfigureAwait(false);
                    await Task.WhenAll(pending).ConfigureAwait(false);
                    Remember(host, found.Node, found.Run, found.Address);
                    ClusterLog.RouteLearnedFromNode(node.Logger, host, found.Node);
                    return new NodeRoute(NodeRouteKind.Remote, found.Link, found.Node);
                }
            }
            return unavailable with { Problem = problem + "; and no other node this one reaches serves " + host };
        }
        finally
        {
            Interlocked.Decrement(ref _peerLookups);
        }
    }

    /// <summary>One question to one node: the node when it answers that it serves the host, else null (never throws).</summary>
    private async Task<(string Node, string Run, string Address, MuxLink Link)?> AskAsync(string peer, string run, string address, string host, CancellationToken cancellationToken)
    {
        try
        {
            var link = await node.Links.GetAsync(peer, run, address).WaitAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _peerQuestions);
            var stream = link.Open(WhoHolds, host);
            await using (stream.ConfigureAwait(false))
            {
                var answer = new byte[1];
                var read = await stream.ReadAsync(answer, cancellationToken).ConfigureAwait(false);
                return read == 1 && answer[0] == (byte)'Y' ? (peer, run, address, link) : null;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException)
        {
            ClusterLog.NodeQuestionFailed(node.Logger, peer, host, ex is OperationCanceledException ? "it did not answer in time" : ex.Message);
            return null;
        }
    }

    /// <summary>Forgets where <paramref name="host"/> was served (its node said it no longer serves it, or cannot be reached).</summary>
    public void Forget(string host) => _routes.TryRemove(host, out _);

    private static string? AddressOf(string? description) => description is null ? null : Describe(description)?.Address;

    /// <summary>Name, run and address of a node's heartbeat description, or null when it cannot be read.</summary>
    private static (string Name, string Run, string Address)? Describe(string description)
    {
        try
        {
            using var doc = JsonDocument.Parse(description);
            var root = doc.RootElement;
            return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("address", out var address) && address.GetString() is { Length: > 0 } where
                ? (root.TryGetProperty("name", out var name) ? name.GetString() ?? "" : "", root.TryGetProperty("run", out var run) ? run.GetString() ?? "" : "", where)
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
