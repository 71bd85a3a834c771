using System.Net.Security;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>The login on a freshly dialled control stream: Auth out, AuthResp in, and what it grants.</summary>
internal static class ClientLogin
{
    /// <summary>Logs in; throws <see cref="TunnelAuthenticationException"/> when the server refuses the token and
    /// <see cref="TunnelConnectionException"/> (Protocol) when it answers with anything but an AuthResp.</summary>
    /// <param name="clientId">The id of the session to resume (empty at the first login).</param>
    public static async Task<LoginGrant> LoginAsync(SslStream stream, TunnelClientOptions options, string clientId, ServerAddress server, CancellationToken token)
    {
        await FrameCodec.WriteAsync(stream, new Auth
        {
            User = options.AuthToken,
            ClientId = clientId,
            OS = ClientPlatform.OsName(),
            Arch = ClientPlatform.ArchName(),
            Capabilities = options.UseMultiplexing
                ? [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability]
                : [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability],
        }, token).ConfigureAwait(false);
        var answer = await FrameCodec.ReadAsync(stream, token).ConfigureAwait(false);
        if (answer is not AuthResp authResp)
        {
            throw new TunnelConnectionException(answer is null
                ? $"The tunnel server {server} closed the connection during login."
                : $"The tunnel server {server} answered the login with {answer.Type} instead of AuthResp.", kind: TunnelErrorKind.Protocol);
        }
        if (!string.IsNullOrEmpty(authResp.Error))
        {
            throw new TunnelAuthenticationException($"The tunnel server {server} refused the login: {TerminalText.Line(authResp.Error)}");
        }
        var capabilities = authResp.Capabilities;
        var proxyKey = capabilities?.Contains(ProtocolVersion.ProxyKeyCapability) == true ? authResp.ProxyKey : null;
        return new LoginGrant(
            authResp.ClientId,
            ServerIsTunnelPS: capabilities?.Contains(ProtocolVersion.TunnelPSCapability) == true,
            EnforcesIPRules: capabilities?.Contains(ProtocolVersion.IPRulesCapability) == true,
            proxyKey,
            UsesLinks: options.UseMultiplexing && proxyKey is not null && capabilities?.Contains(ProtocolVersion.MuxCapability) == true);
    }
}
