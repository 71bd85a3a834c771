using System.Diagnostics.Metrics;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>
/// The engine's counters (System.Diagnostics.Metrics, meter "TunnelPS"): watch them with dotnet-counters or any
/// MeterListener. Instruments cost next to nothing while nobody listens.
/// </summary>
internal static class TunnelMetrics
{
    public const string MeterName = "TunnelPS";

    private static readonly Meter s_meter = new(MeterName);

    public static readonly UpDownCounter<long> Sessions =
        s_meter.CreateUpDownCounter<long>("tunnelps.server.sessions", description: "Logged-in clients on the server.");

    public static readonly Counter<long> PublicConnections =
        s_meter.CreateCounter<long>("tunnelps.server.public_connections", description: "Visitor connections spliced onto a tunnel.");

    public static readonly Counter<long> ProxyWaitTimeouts =
        s_meter.CreateCounter<long>("tunnelps.server.proxy_wait_timeouts", description: "Visitors that found no proxy connection in time.");

    public static readonly Counter<long> RefusedConnections =
        s_meter.CreateCounter<long>("tunnelps.server.refused_connections", description: "Connections closed at accept by a limit or the deny list (tag: reason).");

    public static readonly Counter<long> AcceptFailures =
        s_meter.CreateCounter<long>("tunnelps.server.accept_failures", description: "Accepts that failed (out of descriptors or buffers) and were retried after a back-off.");

    public static readonly Counter<long> RefusedProxyConnections =
        s_meter.CreateCounter<long>("tunnelps.server.refused_proxy_connections", description: "RegProxy connections closed: unknown session, wrong key, wrong address or not requested.");

    public static readonly Counter<long> RefusedVisitors =
        s_meter.CreateCounter<long>("tunnelps.server.refused_visitors", description: "Visitors refused, and requests not forwarded (tag: reason = ip_rules, max_connections_per_tunnel, connect_method, head_too_large, bad_request, bad_body).");

    public static readonly Counter<long> DeadlineCloses =
        s_meter.CreateCounter<long>("tunnelps.server.deadline_closes", description: "Visitor connections closed by a deadline (tag: deadline = head, idle, write, client_hello).");

    public static readonly Counter<long> TokenFileReloads =
        s_meter.CreateCounter<long>("tunnelps.server.token_file_reloads", description: "Changes of the token file read (tag: outcome = applied, error, no_list; the last two keep the tokens in force).");

    public static readonly Counter<long> ProxyConnections =
        s_meter.CreateCounter<long>("tunnelps.client.proxy_connections", description: "Proxy connections the client dialled.");

    public static readonly Counter<long> LocalConnectFailures =
        s_meter.CreateCounter<long>("tunnelps.client.local_connect_failures", description: "Failed dials to a local service.");

    public static readonly Counter<long> LimitsReached =
        s_meter.CreateCounter<long>("tunnelps.limits.reached", description: "Bounds without a counter of their own that were reached (tag: limit; docs/limits.md lists them).");

    /// <summary>Counts one reach of the bound <paramref name="limit"/> (a name docs/limits.md gives).</summary>
    public static void LimitReached(string limit) => LimitsReached.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public static readonly Counter<long> Reconnects =
        s_meter.CreateCounter<long>("tunnelps.client.reconnects", description: "Reconnections after a lost control connection.");

    public static readonly Counter<long> LoginRefusals =
        s_meter.CreateCounter<long>("tunnelps.client.login_refusals", description: "Reconnection logins the server refused after it had accepted the client, each retried with back-off.");

    public static readonly Counter<long> LeaseConflicts =
        s_meter.CreateCounter<long>("tunnelps.cluster.lease_conflicts", description: "Leases of this node found changed in the cluster store (tag: outcome = forged, reasserted, yielded).");

    public static readonly Counter<long> InspectorRefused =
        s_meter.CreateCounter<long>("tunnelps.inspector.refused", description: "Web inspector requests refused: another user's process, no key where the owner is unknown, a foreign Host or Origin.");

    public static readonly Counter<long> LinkWriteTimeouts =
        s_meter.CreateCounter<long>("tunnelps.link.write_timeouts", description: "Multiplexed links closed because the peer read nothing within the link's write deadline.");

    public static readonly Counter<long> LinkReadPauses =
        s_meter.CreateCounter<long>("tunnelps.link.read_pauses", description: "Times a multiplexed link stopped reading because the peer left the answers it asked for (Pong, Reset) unread.");

    public static readonly Counter<long> LinkRefusedStreams =
        s_meter.CreateCounter<long>("tunnelps.link.refused_streams", description: "Streams refused at a multiplexed link's cap on open streams (tag: side = peer, an Open reset; local, an Open that failed).");

    public static readonly Counter<long> ClientRefusedVisitors =
        s_meter.CreateCounter<long>("tunnelps.client.refused_visitors", description: "Visitor streams and proxy connections the client closed at its cap on visitors open at once.");

    public static readonly Counter<long> ClientRefusedProxyRequests =
        s_meter.CreateCounter<long>("tunnelps.client.refused_proxy_requests", description: "ReqProxy messages the client did not dial at its cap on proxy dials outstanding.");
}
