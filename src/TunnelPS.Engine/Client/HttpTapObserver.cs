using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// Hands the bytes of one spliced connection of an HTTP tunnel to its capture tap. When the local service ends the
/// connection while a request waits for its response (<paramref name="localAddress"/> given), the visitor gets a 502
/// page that names the service, captured as that request's response with the reason as its Error (and logged at Debug
/// with <paramref name="connectionId"/>).
/// </summary>
internal sealed class HttpTapObserver(HttpExchangeTap tap, string? localAddress = null, ILogger? logger = null, long connectionId = 0) : ISpliceObserver
{
    public void OnVisitorData(ReadOnlySpan<byte> data) => tap.OnVisitorData(data);

    public void OnLocalData(ReadOnlySpan<byte> data) => tap.OnLocalData(data);

    public void OnClosed() => tap.OnClosed();

    public ReadOnlyMemory<byte> OnLocalEnded()
    {
        if (localAddress is null)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        var page = ErrorPages.LocalServiceClosed(localAddress);
        var reason = $"The client answered 502 itself: the local service {localAddress} closed the connection before it answered.";
        if (!tap.AnswerInPlaceOfLocal(page, reason))
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        if (logger is not null)
        {
            ClientLog.LocalClosedBeforeAnswer(logger, connectionId, localAddress);
        }
        return page;
    }
}
