namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Observes the two directions of one tunnelled connection. The splice loop calls <see cref="OnVisitorData"/> and
/// <see cref="OnLocalData"/> after writing the bytes on, from one thread per direction, and <see cref="OnClosed"/>
/// when the connection ends. Implementations never throw, never block and do bounded work per call.
/// </summary>
public interface IConnectionTap
{
    /// <summary>Bytes that went from the visitor to the local service.</summary>
    void OnVisitorData(ReadOnlySpan<byte> data);

    /// <summary>Bytes that went from the local service to the visitor.</summary>
    void OnLocalData(ReadOnlySpan<byte> data);

    /// <summary>The connection ended (either side). May be called more than once.</summary>
    void OnClosed();
}
