namespace TunnelPS.Engine.Http;

/// <summary>
/// Receives each exchange <see cref="HttpExchangeTap"/> completes, on whichever direction's thread completed it, in
/// the order of the connection's exchanges. The exchange no longer changes; the call must be quick and not block.
/// </summary>
internal interface IHttpExchangeSink
{
    void OnExchange(TappedExchange exchange);
}
