namespace TunnelPS.Engine.Transport;

/// <summary>A stream could not be opened: the link carries its most streams (<see cref="MuxLinkLimits.MaxStreams"/>).</summary>
internal sealed class MuxStreamLimitException(string message) : IOException(message);
