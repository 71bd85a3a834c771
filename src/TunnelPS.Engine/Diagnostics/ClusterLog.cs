using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>Cluster log events of a server node (fixed ids 1100 and up).</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(1100, LogLevel.Information, "Node {Node} joined the cluster ({Store}), reachable at {Address}")]
    public static partial void Joined(ILogger logger, string node, string store, string address);

    [LoggerMessage(1101, LogLevel.Warning, "The cluster store cannot be reached: {Reason}. Open tunnels keep serving; new tunnels are refused until it is back")]
    public static partial void StoreUnreachable(ILogger logger, string reason);

    [LoggerMessage(1102, LogLevel.Information, "The cluster store answers again")]
    public static partial void StoreBack(ILogger logger);

    [LoggerMessage(1103, LogLevel.Warning, "Another process announced itself as node {Node} (run {OtherRun}); node names must be unique in a cluster")]
    public static partial void DuplicateNode(ILogger logger, string node, string otherRun);

    [LoggerMessage(1104, LogLevel.Warning, "Session {Session} lost {Key} in the cluster (another session took it back); the session ends so that its client reconnects")]
    public static partial void LeaseLost(ILogger logger, string session, string key);

    [LoggerMessage(1105, LogLevel.Warning, "Could not {Action} {Key} in the cluster store: {Reason}")]
    public static partial void LeaseWriteFailed(ILogger logger, string action, string key, string reason);

    [LoggerMessage(1106, LogLevel.Information, "Cluster link to node {Node} at {Address} opened")]
    public static partial void LinkOpened(ILogger logger, string node, string address);

    [LoggerMessage(1107, LogLevel.Warning, "Cluster link to node {Node} at {Address} failed: {Reason}")]
    public static partial void LinkFailed(ILogger logger, string node, string address, string reason);

    [LoggerMessage(1108, LogLevel.Information, "Cluster link from node {Node} ({RemoteAddress}) accepted")]
    public static partial void LinkAccepted(ILogger logger, string node, string remoteAddress);

    [LoggerMessage(1109, LogLevel.Debug, "[{ConnectionId}] Visitor {RemoteAddress} for {Host} forwarded to node {Node}")]
    public static partial void Forwarded(ILogger logger, long connectionId, string remoteAddress, string host, string node);

    [LoggerMessage(1111, LogLevel.Warning, "The cluster store holds a forged lease for {Key} (naming node {Node}): {Reason}. It is not obeyed; a client of the store without the cluster secret wrote it (check who may write to Redis){Suppressed}")]
    public static partial void ForgedLease(ILogger logger, string key, string node, string reason, string suppressed);

    [LoggerMessage(1112, LogLevel.Warning, "Session {Session} keeps {Key}: its lease vanished from the cluster store while live and node {Node} claimed it later for another session; this node wrote its lease back and node {Node} gives the name up")]
    public static partial void LeaseReasserted(ILogger logger, string session, string key, string node);

    [LoggerMessage(1110, LogLevel.Warning, "Node {Node} has no -NodeAddress, so other nodes dial {Address}, the cluster's public name, which may reach another node: give each node its own address with -NodeAddress")]
    public static partial void NodeAddressDefaulted(ILogger logger, string node, string address);

    [LoggerMessage(1113, LogLevel.Debug, "The cluster store does not answer: visitors for {Host} go to node {Node}, which says it serves it")]
    public static partial void RouteLearnedFromNode(ILogger logger, string host, string node);

    [LoggerMessage(1114, LogLevel.Debug, "Node {Node} did not say whether it serves {Host}: {Reason}")]
    public static partial void NodeQuestionFailed(ILogger logger, string node, string host, string reason);

    [LoggerMessage(1115, LogLevel.Debug, "Another node asked whether this node serves {Host}, and its link ended before the answer: {Reason}")]
    public static partial void QuestionUnanswered(ILogger logger, string host, string reason);
}
