using System.Text;
using System.Threading.Channels;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The live streams (Server-Sent Events) of an inspector: each subscriber has a bounded queue of encoded events; one
/// that falls <see cref="InspectorOptions.MaxEventBacklog"/> events behind is ended (its page reconnects and reloads)
/// rather than let memory grow. The capture stores are watched only while someone is subscribed, so capture costs
/// nothing extra when no page is open. Events: <c>request</c> (the summary of a new exchange), <c>tunnels</c> (the
/// tunnel list after a change), <c>cleared</c>.
/// </summary>
internal sealed class InspectorEvents : IDisposable
{
    private static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();

    private readonly object _gate = new();
    private readonly InspectorCatalog _catalog;
    private readonly int _backlog;
    private readonly List<Subscriber> _subscribers = [];
    private readonly HashSet<CaptureStore> _watched = new(ReferenceEqualityComparer.Instance);
    private readonly ITimer _keepAlive;
    private bool _disposed;

    public InspectorEvents(InspectorCatalog catalog, int backlog, TimeProvider time, TimeSpan keepAlive)
    {
        _catalog = catalog;
        _backlog = backlog;
        // One timer for every stream: a comment line keeps idle streams open through proxies and browsers.
        _keepAlive = time.CreateTimer(static state => ((InspectorEvents)state!).PublishEncoded(KeepAliveComment), this, keepAlive, keepAlive);
        _catalog.CapturesChanged += OnCapturesChanged;
        _catalog.TunnelsChanged += OnTunnelsChanged;
    }

    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>A new subscriber (null once disposed); the first one starts the watching of the stores.</summary>
    public Subscriber? Subscribe()
    {
        var subscriber = new Subscriber(_backlog);
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }
            _subscribers.Add(subscriber);
            if (_subscribers.Count == 1)
            {
                WatchLocked(_catalog.Captures);
            }
        }
        return subscriber;
    }

    public void Unsubscribe(Subscriber subscriber)
    {
        lock (_gate)
        {
            if (_subscribers.Remove(subscriber) && _subscribers.Count == 0)
            {
                WatchLocked([]);
            }
        }
        subscriber.Events.Writer.TryComplete();
    }

    /// <summary>Queues an event for every subscriber; one whose queue is full is ended.</summary>
    public void Publish(string name, byte[] json)
    {
        if (SubscriberCount > 0)
        {
            PublishEncoded(Encode(name, json));
        }
    }

    private void PublishEncoded(byte[] encoded)
    {
        Subscriber[] subscribers;
        lock (_gate)
        {
            if (_subscribers.Count == 0)
            {
                return;
            }
            subscribers = [.. _subscribers];
        }
        foreach (var subscriber in subscribers)
        {
            if (!subscriber.Events.Writer.TryWrite(encoded))
            {
                subscriber.Lagged = true;
                subscriber.Events.Writer.TryComplete();
            }
        }
    }

    /// <summary>"event: name\ndata: json\n\n" (the JSON is written without line breaks).</summary>
    public static byte[] Encode(string name, byte[] json)
    {
        var prefix = Encoding.ASCII.GetBytes($"event: {name}\ndata: ");
        var bytes = new byte[prefix.Length + json.Length + 2];
        prefix.CopyTo(bytes, 0);
        json.CopyTo(bytes, prefix.Length);
        bytes[^2] = (byte)'\n';
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    public void Dispose()
    {
        _keepAlive.Dispose();
        Subscriber[] subscribers;
        lock (_gate)
        {
            _disposed = true;
            subscribers = [.. _subscribers];
            _subscribers.Clear();
            WatchLocked([]);
        }
        _catalog.CapturesChanged -= OnCapturesChanged;
        _catalog.TunnelsChanged -= OnTunnelsChanged;
        foreach (var subscriber in subscribers)
        {
            subscriber.Events.Writer.TryComplete();
        }
    }

    private void OnCapturesChanged(object? sender, EventArgs e)
    {
        lock (_gate)
        {
            if (_subscribers.Count > 0)
            {
                WatchLocked(_catalog.Captures);
            }
        }
    }

    private void OnTunnelsChanged(object? sender, EventArgs e)
    {
        if (SubscriberCount > 0)
        {
            Publish("tunnels", InspectorJson.Write(w => InspectorJson.WriteTunnels(w, _catalog.Tunnels)));
        }
    }

    private void OnExchangeCaptured(object? sender, CapturedExchange exchange) =>
        Publish("request", InspectorJson.Write(w => InspectorJson.WriteExchange(w, exchange, bodies: false)));

    /// <summary>Watches exactly the stores of <paramref name="captures"/>.</summary>
    private void WatchLocked(IReadOnlyList<InspectedCapture> captures)
    {
        var wanted = new HashSet<CaptureStore>(ReferenceEqualityComparer.Instance);
        foreach (var capture in captures)
        {
            wanted.Add(capture.Store);
        }
        foreach (var store in _watched.Where(s => !wanted.Contains(s)).ToList())
        {
            store.ExchangeCaptured -= OnExchangeCaptured;
            _watched.Remove(store);
        }
        foreach (var store in wanted)
        {
            if (_watched.Add(store))
            {
                store.ExchangeCaptured += OnExchangeCaptured;
            }
        }
    }

    /// <summary>One live stream's queue of encoded events.</summary>
    internal sealed class Subscriber(int backlog)
    {
        public Channel<byte[]> Events { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(backlog)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });

        /// <summary>The subscriber fell too far behind and was ended.</summary>
        public bool Lagged { get; set; }
    }
}
