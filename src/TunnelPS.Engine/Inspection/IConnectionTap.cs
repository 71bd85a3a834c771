namespace TunnelPS.Engine.Inspection;

/// <summary>Observes the bytes of one proxied connection after they were forwarded. Never throws, never blocks.</summary>
public interface IConnectionTap
{
    /// <summary>Bytes that went from the visitor to the local service.</summary>
    void OnVisitorData(ReadOnlySpan<byte> data);

    /// <summary>Bytes that went from the local service to the visitor.</summary>
    void OnLocalData(ReadOnlySpan<byte> data);

    /// <summary>The connection ended.</summary>
    void OnClosed();
}
