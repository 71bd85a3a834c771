using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>Hands the bytes of one spliced connection of an HTTP tunnel to its capture tap.</summary>
internal sealed class HttpTapObserver(HttpExchangeTap tap) : ISpliceObserver
{
    public void OnVisitorData(ReadOnlySpan<byte> data) => tap.OnVisitorData(data);

    public void OnLocalData(ReadOnlySpan<byte> data) => tap.OnLocalData(data);

    public void OnClosed() => tap.OnClosed();
}
