using System.Text.Json.Serialization;

namespace TunnelPS.Engine.Protocol;

/// <summary>Source-generated JSON metadata for the protocol messages (no reflection on the hot path).</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Auth))]
[JsonSerializable(typeof(AuthResp))]
[JsonSerializable(typeof(ReqTunnel))]
[JsonSerializable(typeof(NewTunnel))]
[JsonSerializable(typeof(ReqProxy))]
[JsonSerializable(typeof(RegProxy))]
[JsonSerializable(typeof(StartProxy))]
[JsonSerializable(typeof(Ping))]
[JsonSerializable(typeof(Pong))]
[JsonSerializable(typeof(CloseTunnel))]
[JsonSerializable(typeof(RegLink))]
[JsonSerializable(typeof(NodeAuth))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext
{
}
