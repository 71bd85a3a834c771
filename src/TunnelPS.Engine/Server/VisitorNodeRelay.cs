using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The first request of a connection is for a host another node of the cluster serves: the whole connection (the head
/// read so far included) goes to that node over the link to it, where basic auth, IP rules and limits apply as for its
/// own visitors (it sees the visitor's address). The connection is then relayed as raw bytes, its writes to the
/// visitor under this node's write deadline (a visitor that reads nothing is cut here: that node's write deadline
/// cannot reach a write stuck on this node), and it ends when that node ends the stream (its head and idle deadlines
/// for later requests, or its answer), whatever the visitor does.
/// </summary>
internal sealed class VisitorNodeRelay(ClusterNode cluster, VisitorChannel visitor, VisitorRequestReader reader, TunnelForwarder forwarder, string scheme, string remote, long connectionId, ILogger logger)
{
    /// <summary>
    /// Routes the connection for <paramref name="host"/> to its node and relays it there; answers the visitor itself when
    /// no node serves the host. <paramref name="relaying"/> is called once the node has taken the connection.
    /// </summary>
    public async Task RunAsync(string host, CancellationTokenSource connection, Action relaying)
    {
        var token = connection.Token;
        var route = await cluster.Router.RouteAsync(host, fresh: false, token).ConfigureAwait(false);
        while (true)
        {
            if (Refusal(route, host) is { } page)
            {
                await visitor.AnswerAndCloseAsync(page, token).ConfigureAwait(false);
                return;
            }
            var stream = await OpenForwardAsync(route, host, token).ConfigureAwait(false);
            if (stream is not null)
            {
                // The head went with the stream's first bytes. From here the node's answers are pumped to the visitor
                // as they come (no tracker: that node follows the responses), and the visitor's bytes relayed to it.
                reader.Consume(reader.Buffered.Length);
                relaying();
                forwarder.AttachRelay(stream, host, connection);
                await forwarder.RelayRawAsync(token).ConfigureAwait(false);
                return;
            }
            // The node did not take it (the route was stale, or its link is gone): forget the route and ask the cluster
            // store once; a route that came from the store just now is not asked again.
            cluster.Router.Forget(host);
            if (!route.Cached)
            {
                await visitor.AnswerAndCloseAsync(ErrorPages.ClientNotConnected(host), token).ConfigureAwait(false);
                return;
            }
            route = await cluster.Router.RouteAsync(host, fresh: true, token).ConfigureAwait(false);
        }
    }

    /// <summary>The page for a route that leads to no node that could take the connection; null for a remote node's route.</summary>
    private byte[]? Refusal(NodeRoute route, string host)
    {
        switch (route.Kind)
        {
            case NodeRouteKind.Remote:
                return null;
            case NodeRouteKind.Reserved:
                return ErrorPages.ClientNotConnected(host);
            case NodeRouteKind.Unavailable:
                ServerLog.NoProxyConnection(logger, connectionId, remote, host, route.Problem ?? "the cluster cannot route it now");
                return ErrorPages.ClientNotConnected(host);
            default:
                return ErrorPages.TunnelNotFound(host);
        }
    }

    /// <summary>
    /// Opens a stream to the route's node and sends it what the visitor sent so far; the stream once that node says it
    /// serves the host, or null when it does not (or cannot be reached).
    /// </summary>
    private async Task<MuxStream?> OpenForwardAsync(NodeRoute route, string host, CancellationToken token)
    {
        MuxStream stream;
        try
        {
            stream = route.Link!.Open("cluster:" + scheme, remote);
        }
        catch (IOException ex)
        {
            ServerLog.NoProxyConnection(logger, connectionId, remote, host, "the link to node " + route.Node + " refused a stream: " + ex.Message);
            return null;
        }
        ClusterLog.Forwarded(logger, connectionId, remote, host, route.Node!);
        var answer = new byte[1];
        try
        {
            await stream.WriteAsync(reader.FromHead, token).ConfigureAwait(false);
            if (await stream.ReadAsync(answer, token).ConfigureAwait(false) == 1 && answer[0] == PublicHttpConnection.ForwardHere[0])
            {
                return stream;
            }
        }
        catch (IOException ex)
        {
            // The link ended under the stream: as if the node had said no.
            ServerLog.NoProxyConnection(logger, connectionId, remote, host, "the link to node " + route.Node + " ended: " + ex.Message);
        }
        await stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }
}
