namespace TunnelPS.Engine.Inspector;

/// <summary>An inspector's API answered a call with an error (or could not be reached); the message is the inspector's.</summary>
public sealed class InspectorException : TunnelException
{
    private readonly TunnelErrorKind _kind;

    public InspectorException() : this("The inspector call failed.") { }
    public InspectorException(string message) : this(message, TunnelErrorKind.Protocol) { }
    public InspectorException(string message, Exception inner) : base(message, inner) => _kind = TunnelErrorKind.Connection;
    public InspectorException(string message, TunnelErrorKind kind) : base(message) => _kind = kind;

    /// <summary>The HTTP status the inspector answered with; 0 when it was not reached.</summary>
    public int StatusCode { get; init; }

    public override TunnelErrorKind Kind => _kind;

    /// <summary>The kind of error an API status means.</summary>
    internal static TunnelErrorKind KindOf(int status) => status switch
    {
        404 => TunnelErrorKind.NotFound,
        403 => TunnelErrorKind.Authentication,
        408 or 504 => TunnelErrorKind.Timeout,
        409 => TunnelErrorKind.Conflict,
        413 or 429 or 431 => TunnelErrorKind.LimitReached,
        502 or 503 => TunnelErrorKind.Connection,
        _ => TunnelErrorKind.Protocol,
    };
}
