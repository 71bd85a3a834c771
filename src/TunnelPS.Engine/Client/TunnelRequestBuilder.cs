using System.Security.Cryptography;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Client;

/// <summary>The ReqTunnel that opens a tunnel definition: at the first login, or again after a reconnect.</summary>
internal static class TunnelRequestBuilder
{
    /// <param name="previous">The endpoints the definition held before a reconnect (null at the first login): the
    /// request asks for exactly their name or port, and only for their protocols.</param>
    public static ReqTunnel Build(TunnelDefinition definition, IReadOnlyList<TunnelEndpoint>? previous)
    {
        var reqId = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var protocols = previous is null ? definition.Protocols : definition.Protocols.Where(p => previous.Any(e => e.Protocol == p)).ToList();
        var hostname = definition.Hostname ?? "";
        var subdomain = definition.Subdomain ?? "";
        var remotePort = definition.RemotePort;
        if (previous is { Count: > 0 } && Uri.TryCreate(previous[0].PublicUrl, UriKind.Absolute, out var url))
        {
            // Ask for exactly the name (or port) held before the disconnect.
            if (definition.Protocols.Contains("tcp"))
            {
                remotePort = url.Port;
            }
            else
            {
                hostname = url.Host;
                subdomain = "";
            }
        }
        return new ReqTunnel
        {
            ReqId = reqId,
            Protocol = string.Join('+', protocols),
            Hostname = hostname,
            Subdomain = subdomain,
            HttpAuth = definition.HttpAuth ?? "",
            RemotePort = remotePort,
            HostHeader = definition.EffectiveHostHeader,
            AllowIP = WireRules(definition.AllowIP),
            DenyIP = WireRules(definition.DenyIP),
        };
    }

    /// <summary>IP rules as ReqTunnel carries them: trimmed, or null when there are none (nothing changes on the wire).</summary>
    private static List<string>? WireRules(IReadOnlyList<string>? rules) =>
        rules is { Count: > 0 } ? rules.Select(r => r.Trim()).ToList() : null;
}
