namespace TunnelPS.Engine.Transport;

/// <summary>
/// A proxy setting (an explicit value or an http_proxy-style environment variable) cannot be used: an unsupported
/// scheme, a malformed address or port. The message names the value with any password replaced by <c>****</c>.
/// </summary>
public sealed class ProxyConfigurationException : TunnelException
{
    public ProxyConfigurationException(string message) : base(message) { }
    public ProxyConfigurationException(string message, Exception inner) : base(message, inner) { }

    /// <inheritdoc />
    public override TunnelErrorKind Kind => TunnelErrorKind.InvalidConfiguration;
}
