namespace TunnelPS.Engine.Transport;

/// <summary>
/// Observes the two directions of one spliced connection. <see cref="Splicer"/> calls <see cref="OnVisitorData"/> and
/// <see cref="OnLocalData"/> after writing the bytes on, from one thread per direction, and <see cref="OnClosed"/> once
/// both directions have ended. Implementations never throw, never block and do bounded work per call; the splice
/// swallows anything they throw regardless.
/// </summary>
internal interface ISpliceObserver
{
    /// <summary>Bytes that went from the visitor to the local service. The span is valid only during the call.</summary>
    void OnVisitorData(ReadOnlySpan<byte> data);

    /// <summary>Bytes that went from the local service to the visitor. The span is valid only during the call.</summary>
    void OnLocalData(ReadOnlySpan<byte> data);

    /// <summary>The connection ended (either side). May be called more than once.</summary>
    void OnClosed();

    /// <summary>
    /// The local service ended its side (closed or reset the connection) while the visitor's side is still open: the
    /// bytes to send the visitor before its side is closed, or none. Called once at most, after the last
    /// <see cref="OnLocalData"/>, and never while bytes of the local service's are on their way to the visitor. The
    /// observer records the bytes itself (they do not come back through <see cref="OnLocalData"/>).
    /// </summary>
    ReadOnlyMemory<byte> OnLocalEnded() => ReadOnlyMemory<byte>.Empty;
}
