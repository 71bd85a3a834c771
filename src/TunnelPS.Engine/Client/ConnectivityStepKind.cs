namespace TunnelPS.Engine.Client;

/// <summary>The steps of a connectivity check, in the order they run; each depends on the one before it.</summary>
public enum ConnectivityStepKind
{
    /// <summary>The name of the server (or of the proxy, when one is used) resolved to addresses.</summary>
    Resolve,

    /// <summary>A TCP connection to the server (or to the proxy).</summary>
    Connect,

    /// <summary>The proxy's answer to CONNECT; skipped without a proxy.</summary>
    ProxyConnect,

    /// <summary>The TLS handshake and the check of the server's certificate.</summary>
    Tls,

    /// <summary>The login exchange (Auth, AuthResp): the server speaks the tunnel protocol, its version and capabilities.</summary>
    Protocol,

    /// <summary>The token accepted or refused by the server.</summary>
    Auth,

    /// <summary>Round trips of Ping and Pong over the control connection.</summary>
    Latency,
}
