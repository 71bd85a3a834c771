namespace TunnelPS.Engine;

/// <summary>The base of every error the engine raises at its API boundary.</summary>
public class TunnelException : Exception
{
    public TunnelException() { }
    public TunnelException(string message) : base(message) { }
    public TunnelException(string message, Exception inner) : base(message, inner) { }

    /// <summary>What went wrong, for mapping to an error category.</summary>
    public virtual TunnelErrorKind Kind => TunnelErrorKind.Protocol;
}

/// <summary>Kinds of engine failures; the module maps each to a PowerShell ErrorCategory.</summary>
public enum TunnelErrorKind
{
    Protocol,
    Connection,
    Authentication,
    ProxyAuthentication,
    Timeout,
    NotFound,
    Conflict,
    InvalidConfiguration,
    LimitReached,
}
