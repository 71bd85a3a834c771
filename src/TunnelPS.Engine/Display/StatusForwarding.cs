namespace TunnelPS.Engine.Display;

/// <summary>One "Forwarding" line: a public URL, the local service behind it, and the URL's own status.</summary>
public sealed record StatusForwarding(string PublicUrl, string LocalAddress, string Status);
