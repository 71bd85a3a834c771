namespace TunnelPS.Engine;

/// <summary>A value given to the engine is wrong (a bad option, certificate, address); the message says what to do.</summary>
public sealed class TunnelConfigurationException : TunnelException
{
    private readonly TunnelErrorKind _kind;

    public TunnelConfigurationException(string message, TunnelErrorKind kind = TunnelErrorKind.InvalidConfiguration) : base(message) => _kind = kind;
    public TunnelConfigurationException(string message, Exception inner) : base(message, inner) => _kind = TunnelErrorKind.InvalidConfiguration;

    public override TunnelErrorKind Kind => _kind;
}

/// <summary>A server could not be reached or a connection to it broke.</summary>
public sealed class TunnelConnectionException : TunnelException
{
    private readonly TunnelErrorKind _kind;

    public TunnelConnectionException(string message, Exception? inner = null, TunnelErrorKind kind = TunnelErrorKind.Connection)
        : base(message, inner ?? new InvalidOperationException(message)) => _kind = kind;

    public override TunnelErrorKind Kind => _kind;
}

/// <summary>The server refused the client's auth token (final: the client does not retry).</summary>
public sealed class TunnelAuthenticationException(string message) : TunnelException(message)
{
    public override TunnelErrorKind Kind => TunnelErrorKind.Authentication;
}

/// <summary>The server refused a tunnel (name taken, port in use, limit reached, bad request).</summary>
public sealed class TunnelRequestException(string message, TunnelErrorKind kind = TunnelErrorKind.Conflict) : TunnelException(message)
{
    public override TunnelErrorKind Kind => kind;
}
