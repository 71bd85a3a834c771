namespace TunnelPS.Engine.Server;

/// <summary>
/// Where a <see cref="PublicHttpConnection"/> stands, as its main loop, its response pump and the deadline timer see
/// it. It moves only forward: from <see cref="Serving"/> to one of the others, and from any to <see cref="Closed"/>.
/// </summary>
internal enum PublicConnectionState
{
    /// <summary>Request heads are read, routed and forwarded one after another.</summary>
    Serving,

    /// <summary>The visitor ended its side (an end of stream between requests or within a body): owed responses drain.</summary>
    VisitorDone,

    /// <summary>
    /// The connection is relayed as raw bytes to the node of the cluster that serves its host: that node applies the
    /// idle deadline (only it knows whether a response is owed), and its end ends this connection.
    /// </summary>
    RelayedToNode,

    /// <summary>A deadline closed the connection; nothing more is checked.</summary>
    Closed,
}
