namespace TunnelPS.Engine.Client;

/// <summary>
/// A visitor the client answered itself because the local service did not answer: when, the status it was sent
/// (502 for http; 0 for tcp, whose visitor is closed), and why the dial failed.
/// </summary>
public sealed record LocalFailure(DateTimeOffset Time, int Status, string Reason);
