using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// What an <see cref="InspectorServer"/> shows: the capture stores (set whole by the host, which knows which it keeps)
/// and the tunnel clients whose public URLs it lists. Thread-safe; changes are announced to the live streams.
/// </summary>
public sealed class InspectorCatalog
{
    private readonly object _gate = new();
    private readonly List<TunnelClient> _clients = [];
    private InspectedCapture[] _captures = [];

    /// <summary>Raised after <see cref="SetCaptures"/> changed the set of stores.</summary>
    internal event EventHandler? CapturesChanged;

    /// <summary>Raised when a client is added or removed, or one of its URLs changes status.</summary>
    internal event EventHandler? TunnelsChanged;

    /// <summary>The stores shown, in the order given.</summary>
    public IReadOnlyList<InspectedCapture> Captures
    {
        get
        {
            lock (_gate)
            {
                return _captures;
            }
        }
    }

    /// <summary>The public URLs of the clients shown (stopped ones left out), oldest client first.</summary>
    public IReadOnlyList<TunnelEndpoint> Tunnels
    {
        get
        {
            TunnelClient[] clients;
            lock (_gate)
            {
                clients = [.. _clients];
            }
            var endpoints = new List<TunnelEndpoint>();
            foreach (var client in clients)
            {
                foreach (var endpoint in client.Endpoints)
                {
                    if (endpoint.Status != TunnelStatus.Stopped)
                    {
                        endpoints.Add(endpoint);
                    }
                }
            }
            return endpoints;
        }
    }

    /// <summary>Replaces the stores shown (a store given twice is shown once, under its first name).</summary>
    public void SetCaptures(IEnumerable<InspectedCapture> captures)
    {
        ArgumentNullException.ThrowIfNull(captures);
        var distinct = new List<InspectedCapture>();
        foreach (var capture in captures)
        {
            ArgumentNullException.ThrowIfNull(capture);
            if (!distinct.Exists(c => ReferenceEquals(c.Store, capture.Store)))
            {
                distinct.Add(capture);
            }
        }
        lock (_gate)
        {
            _captures = [.. distinct];
        }
        CapturesChanged?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Lists the client's public URLs until it stops or is removed.</summary>
    public void AddClient(TunnelClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_gate)
        {
            if (_clients.Contains(client))
            {
                return;
            }
            _clients.Add(client);
        }
        client.StatusChanged += OnClientChanged;
        foreach (var endpoint in client.Endpoints)
        {
            endpoint.StatusChanged += OnClientChanged;
        }
        _ = client.Completion.ContinueWith(
            static (_, state) =>
            {
                var (catalog, stopped) = ((InspectorCatalog, TunnelClient))state!;
                catalog.RemoveClient(stopped);
            },
            (this, client),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        TunnelsChanged?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Stops listing the client's public URLs.</summary>
    public void RemoveClient(TunnelClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_gate)
        {
            if (!_clients.Remove(client))
            {
                return;
            }
        }
        client.StatusChanged -= OnClientChanged;
        foreach (var endpoint in client.Endpoints)
        {
            endpoint.StatusChanged -= OnClientChanged;
        }
        TunnelsChanged?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>The exchange with <paramref name="id"/> and the capture that holds it, or null.</summary>
    internal (CapturedExchange Exchange, InspectedCapture Capture)? Find(long id)
    {
        foreach (var capture in Captures)
        {
            if (capture.Store.Get(id) is { } exchange)
            {
                return (exchange, capture);
            }
        }
        return null;
    }

    private void OnClientChanged(object? sender, EventArgs e) => TunnelsChanged?.Invoke(this, EventArgs.Empty);
}
