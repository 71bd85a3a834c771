namespace TunnelPS.Engine.Protocol;

/// <summary>A peer broke the wire protocol: a bad frame length, malformed JSON, an unknown message type, a wrong version.</summary>
public sealed class ProtocolException : TunnelException
{
    public ProtocolException(string message) : base(message) { }
    public ProtocolException(string message, Exception inner) : base(message, inner) { }
}
