using System.Runtime.CompilerServices;
using TunnelPS.Engine.Inspection;

namespace TunnelPS;

/// <summary>
/// The storage behind the <c>Tunnel.RequestCaptured</c> event: the Tunnel model forwards its
/// add/remove accessors here, and this class subscribes to the tunnel's capture store only
/// while the tunnel has handlers, raising the event with the Tunnel as sender.
/// </summary>
internal static class TunnelCaptureEvents
{
    private static readonly ConditionalWeakTable<Tunnel, Subscription> s_subscriptions = new();

    /// <summary>Adds a RequestCaptured handler to <paramref name="tunnel"/>.</summary>
    internal static void Add(Tunnel tunnel, EventHandler<TunnelRequestCapturedEventArgs>? handler)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        if (handler is null)
        {
            return;
        }

        Subscription subscription = s_subscriptions.GetValue(tunnel, static t => new Subscription(t));
        subscription.Add(handler);
    }

    /// <summary>Removes a RequestCaptured handler from <paramref name="tunnel"/>.</summary>
    internal static void Remove(Tunnel tunnel, EventHandler<TunnelRequestCapturedEventArgs>? handler)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        if (handler is not null && s_subscriptions.TryGetValue(tunnel, out Subscription? subscription))
        {
            subscription.Remove(handler);
        }
    }

    private sealed class Subscription
    {
        private readonly object _gate = new();
        private readonly Tunnel _tunnel;
        private readonly CaptureStore? _store;
        private EventHandler<TunnelRequestCapturedEventArgs>? _handlers;

        internal Subscription(Tunnel tunnel)
        {
            _tunnel = tunnel;
            _store = tunnel.Client.CaptureFor(tunnel.Endpoint.Definition);
        }

        internal void Add(EventHandler<TunnelRequestCapturedEventArgs> handler)
        {
            lock (_gate)
            {
                bool first = _handlers is null;
                _handlers += handler;
                if (first && _store is not null)
                {
                    _store.ExchangeCaptured += OnExchangeCaptured;
                }
            }
        }

        internal void Remove(EventHandler<TunnelRequestCapturedEventArgs> handler)
        {
            lock (_gate)
            {
                _handlers -= handler;
                if (_handlers is null && _store is not null)
                {
                    _store.ExchangeCaptured -= OnExchangeCaptured;
                }
            }
        }

        private void OnExchangeCaptured(object? sender, CapturedExchange exchange)
        {
            EventHandler<TunnelRequestCapturedEventArgs>? handlers = Volatile.Read(ref _handlers);
            handlers?.Invoke(_tunnel, new TunnelRequestCapturedEventArgs(new TunnelRequest(exchange, _store!)));
        }
    }
}
