using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// The capture of one tunnelled connection: each exchange its <see cref="HttpExchangeTap"/> completes becomes a
/// <see cref="CapturedExchange"/> in the tunnel's <see cref="CaptureStore"/>, carrying the connection's context and
/// the heads as the bytes that crossed (parsed when something reads them).
/// </summary>
internal sealed class ConnectionCapture : IHttpExchangeSink
{
    private readonly CaptureStore _store;
    private readonly CaptureContext _context;

    public ConnectionCapture(CaptureStore store, CaptureContext context)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(context);
        _store = store;
        _context = context;
    }

    /// <summary>A tap that records the connection described by <paramref name="context"/> into <paramref name="store"/>, with the store's body limit.</summary>
    public static HttpExchangeTap CreateTap(CaptureStore store, CaptureContext context) =>
        new(new ConnectionCapture(store, context), store.MaxBodySize, context.TimeProvider);

    public void OnExchange(TappedExchange exchange)
    {
        var request = exchange.RequestBody;
        var response = exchange.ResponseBody;
        _store.AddOwned(new CapturedExchange(exchange.RequestHead, exchange.ResponseHead)
        {
            TunnelName = _context.TunnelName,
            PublicUrl = _context.PublicUrl,
            LocalAddress = _context.LocalAddress,
            ConnectionId = _context.ConnectionId,
            ClientAddress = _context.ClientAddress,
            Scheme = _context.Scheme,
            PooledRequestBody = request?.Body,
            RequestBodySize = request?.Total ?? 0,
            RequestTruncated = request?.Truncated ?? false,
            Status = exchange.Status,
            PooledResponseBody = response?.Body,
            ResponseBodySize = response?.Total ?? 0,
            ResponseTruncated = response?.Truncated ?? false,
            StartTime = exchange.StartTime,
            TimeToFirstByte = exchange.TimeToFirstByte,
            Duration = exchange.Duration,
            BytesIn = exchange.BytesIn,
            BytesOut = exchange.BytesOut,
            IsUnparsed = exchange.IsUnparsed,
            IsUpgrade = exchange.IsUpgrade,
            Error = _context.AnsweredByClient ?? exchange.Error,
        });
    }
}
