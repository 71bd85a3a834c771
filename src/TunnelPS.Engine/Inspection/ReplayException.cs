namespace TunnelPS.Engine.Inspection;

/// <summary>A replay failed: the target refused the connection, timed out, or answered with something that is not HTTP/1.x.</summary>
public sealed class ReplayException : TunnelException
{
    private readonly TunnelErrorKind _kind;

    public ReplayException() : this("The replay failed.") { }
    public ReplayException(string message) : this(message, TunnelErrorKind.Connection) { }
    public ReplayException(string message, Exception inner) : this(message, TunnelErrorKind.Connection, inner) { }
    public ReplayException(string message, TunnelErrorKind kind) : base(message) => _kind = kind;
    public ReplayException(string message, TunnelErrorKind kind, Exception inner) : base(message, inner) => _kind = kind;

    public override TunnelErrorKind Kind => _kind;
}
