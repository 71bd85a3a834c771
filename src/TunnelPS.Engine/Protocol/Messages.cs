using System.Text.Json.Serialization;

namespace TunnelPS.Engine.Protocol;

/// <summary>A control or proxy message of the ngrok 1.x tunnel protocol (version "2"), plus TunnelPS extensions.</summary>
/// <remarks>Field names are capitalised exactly as ngrok 1.x writes them; see PROTOCOL.md.</remarks>
internal abstract record Message
{
    /// <summary>The value of the frame's "Type" field.</summary>
    [JsonIgnore]
    public abstract string Type { get; }
}

/// <summary>Client → server, the first frame on a control connection.</summary>
internal sealed record Auth : Message
{
    [JsonIgnore]
    public override string Type => "Auth";
    public string Version { get; set; } = ProtocolVersion.Current;
    public string MmVersion { get; set; } = ProtocolVersion.MajorMinor;
    /// <summary>The client's auth token. Never logged.</summary>
    public string User { get; set; } = "";
    public string Password { get; set; } = "";
    public string OS { get; set; } = "";
    public string Arch { get; set; } = "";
    /// <summary>Empty for a new session; the previous session id on reconnect.</summary>
    public string ClientId { get; set; } = "";
    /// <summary>TunnelPS extension: features this peer supports ("tunnelps/1", ...).</summary>
    public IReadOnlyList<string>? Capabilities { get; set; }
}

/// <summary>Server → client, the answer to <see cref="Auth"/>. A non-empty Error means rejected; the server then closes.</summary>
internal sealed record AuthResp : Message
{
    [JsonIgnore]
    public override string Type => "AuthResp";
    public string Version { get; set; } = ProtocolVersion.Current;
    public string MmVersion { get; set; } = ProtocolVersion.MajorMinor;
    public string ClientId { get; set; } = "";
    public string Error { get; set; } = "";
    public IReadOnlyList<string>? Capabilities { get; set; }
    /// <summary>
    /// TunnelPS extension (capability "tunnelps/proxy-key"): a per-session secret the client puts in every
    /// <see cref="RegProxy"/> of this session, so a proxy connection proves it belongs to the session. New at every login.
    /// </summary>
    public string? ProxyKey { get; set; }
}

/// <summary>Client → server: open a tunnel. Sent once per configured tunnel, without waiting for answers.</summary>
internal sealed record ReqTunnel : Message
{
    [JsonIgnore]
    public override string Type => "ReqTunnel";
    /// <summary>Client-chosen correlation id echoed in <see cref="NewTunnel"/>.</summary>
    public string ReqId { get; set; } = "";
    /// <summary>"http", "https", "tcp", or several joined with "+".</summary>
    public string Protocol { get; set; } = "";
    public string Hostname { get; set; } = "";
    public string Subdomain { get; set; } = "";
    /// <summary>"user:password" for basic auth on http/https tunnels.</summary>
    public string HttpAuth { get; set; } = "";
    public int RemotePort { get; set; }
    /// <summary>
    /// TunnelPS extension (ignored by ngrok 1.x servers): the Host header the server sends to the local service
    /// instead of the visitor's; null keeps the visitor's Host.
    /// </summary>
    public string? HostHeader { get; set; }
    /// <summary>
    /// TunnelPS extension: visitor addresses (CIDR or single IPs, IPv4 and IPv6) allowed to use this tunnel; null or
    /// empty allows every address not denied. The server enforces it for http, https and tcp.
    /// </summary>
    public IReadOnlyList<string>? AllowIP { get; set; }
    /// <summary>TunnelPS extension: visitor addresses (CIDR or single IPs) refused by this tunnel; deny wins over allow.</summary>
    public IReadOnlyList<string>? DenyIP { get; set; }
}

/// <summary>Server → client, one per protocol of a <see cref="ReqTunnel"/>. A non-empty Error means that protocol failed.</summary>
internal sealed record NewTunnel : Message
{
    [JsonIgnore]
    public override string Type => "NewTunnel";
    public string ReqId { get; set; } = "";
    public string Url { get; set; } = "";
    public string Protocol { get; set; } = "";
    public string Error { get; set; } = "";
}

/// <summary>Server → client on the control connection: dial one new proxy connection now.</summary>
internal sealed record ReqProxy : Message
{
    [JsonIgnore]
    public override string Type => "ReqProxy";
}

/// <summary>Client → server, the first frame on a proxy connection.</summary>
internal sealed record RegProxy : Message
{
    [JsonIgnore]
    public override string Type => "RegProxy";
    /// <summary>The session id from <see cref="AuthResp"/>: a secret, never logged.</summary>
    public string ClientId { get; set; } = "";
    /// <summary>TunnelPS extension: the session's <see cref="AuthResp.ProxyKey"/>; null from ngrok 1.x clients.</summary>
    public string? ProxyKey { get; set; }
}

/// <summary>
/// TunnelPS extension (capability "tunnelps/mux/1"), client → server, the first frame of a multiplexed link: the
/// connection then carries many visitor connections as streams (see MuxLink) instead of one per pooled connection.
/// </summary>
internal sealed record RegLink : Message
{
    [JsonIgnore]
    public override string Type => "RegLink";
    /// <summary>The session id from <see cref="AuthResp"/>: a secret, never logged.</summary>
    public string ClientId { get; set; } = "";
    /// <summary>The session's <see cref="AuthResp.ProxyKey"/>.</summary>
    public string ProxyKey { get; set; } = "";
}

/// <summary>
/// TunnelPS cluster extension, between two nodes of a cluster on the TLS port: the keyed handshake of an inter-node
/// link. The dialling node sends its Node and a Nonce; the accepting node answers with its own and a Proof (an HMAC
/// under the cluster secret over both nonces, both names and its certificate's fingerprint); the dialler answers with
/// its Proof; the acceptor confirms with an empty Error (or refuses with one and closes). Then the connection is a
/// multiplexed link (see MuxLink) whose streams carry forwarded visitor connections.
/// </summary>
internal sealed record NodeAuth : Message
{
    [JsonIgnore]
    public override string Type => "NodeAuth";
    public string Node { get; set; } = "";
    public string Nonce { get; set; } = "";
    public string Proof { get; set; } = "";
    public string Error { get; set; } = "";
}

/// <summary>Server → client on a pooled proxy connection: a visitor arrived for Url; raw bytes follow.</summary>
internal sealed record StartProxy : Message
{
    [JsonIgnore]
    public override string Type => "StartProxy";
    public string Url { get; set; } = "";
    public string ClientAddr { get; set; } = "";
}

/// <summary>Client → server heartbeat; the server answers each with <see cref="Pong"/>.</summary>
internal sealed record Ping : Message
{
    [JsonIgnore]
    public override string Type => "Ping";
}

/// <summary>Server → client, the answer to <see cref="Ping"/>.</summary>
internal sealed record Pong : Message
{
    [JsonIgnore]
    public override string Type => "Pong";
}

/// <summary>
/// TunnelPS extension (capability "tunnelps/1"), client → server: release one public URL of this session
/// so that its name is free again. Sent only when the server announced the capability.
/// </summary>
internal sealed record CloseTunnel : Message
{
    [JsonIgnore]
    public override string Type => "CloseTunnel";
    public string Url { get; set; } = "";
}

/// <summary>Version strings and capability names.</summary>
internal static class ProtocolVersion
{
    /// <summary>The ngrok 1.x protocol version both peers must speak.</summary>
    public const string Current = "2";
    /// <summary>Informational software version sent in MmVersion.</summary>
    public const string MajorMinor = "1.7";
    /// <summary>The capability a TunnelPS peer announces in Auth/AuthResp.</summary>
    public const string TunnelPSCapability = "tunnelps/1";
    /// <summary>
    /// The capability of peers that prove proxy connections with <see cref="AuthResp.ProxyKey"/>: the server then
    /// accepts a RegProxy of that session only with the key.
    /// </summary>
    public const string ProxyKeyCapability = "tunnelps/proxy-key";
    /// <summary>
    /// The capability of servers that enforce <see cref="ReqTunnel.AllowIP"/> and <see cref="ReqTunnel.DenyIP"/>: a client
    /// opens a tunnel with IP rules only on such a server (another would silently let every address in).
    /// </summary>
    public const string IPRulesCapability = "tunnelps/ip-rules";
    /// <summary>
    /// The capability of peers that carry visitor connections as streams over a few multiplexed links (RegLink) instead
    /// of a pool of proxy connections. Used only with <see cref="ProxyKeyCapability"/>; ngrok 1.x peers keep the pool.
    /// </summary>
    public const string MuxCapability = "tunnelps/mux/1";
}
