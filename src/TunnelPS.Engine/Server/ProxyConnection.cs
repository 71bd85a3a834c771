namespace TunnelPS.Engine.Server;

/// <summary>
/// A connection to the client for one visitor: a stream of a multiplexed link, or a pooled proxy connection whose
/// <see cref="StartFrame"/> (StartProxy) must be written before the visitor's bytes (in the same write where it can).
/// </summary>
internal readonly record struct ProxyConnection(Stream Stream, byte[]? StartFrame);
