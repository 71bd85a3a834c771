namespace TunnelPS.Engine.Client;

/// <summary>
/// A visitor the client answered itself because the local service did not answer: when, the status it was sent
/// (502 for http; 0 for tcp, whose visitor is closed), why the dial failed, and the visitor's connection id (the
/// ConnectionId of its captured exchange, when the exchange is captured too).
/// </summary>
public sealed record LocalFailure(DateTimeOffset Time, int Status, string Reason, long ConnectionId);
