using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// A tunnel client: one control connection to the server carrying any number of tunnels, proxy connections dialled
/// whenever the server asks (so visitors find them ready), a heartbeat, and reconnection with backoff and jitter that
/// asks for the same public names again. Start it with <see cref="StartAsync"/>; dispose it to close everything.
/// </summary>
/// <remarks>
/// Its parts: <see cref="ClientLogin"/> (Auth and what it grants), <see cref="TunnelOpener"/> (ReqTunnel and the URLs),
/// <see cref="ControlReceiver"/> and <see cref="ControlHeartbeat"/> (the loops of one control connection),
/// <see cref="ReconnectLoop"/> (back-off and the next node),
/// <see cref="LocalForwarder"/> (visitors), <see cref="EndpointTable"/> (the URLs held). This class owns their lifetimes:
/// every loop is tracked, the supervisor reconnects, and one stop task, started once, ends them all.
/// </remarks>
public sealed class TunnelClient : IAsyncDisposable
{
    private readonly TunnelClientOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentWork _work;
    private readonly EndpointTable _endpoints = new();
    private readonly ConcurrentDictionary<TunnelDefinition, CaptureStore> _captures = new();
    private readonly ServerRotation _servers;
    private readonly LocalForwarder _forwarder;
    private readonly TunnelOpener _opener;
    private readonly ReconnectLoop _reconnect;
    private readonly object _stopGate = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ControlConnection? _control;
    private string _clientId = "";
    private string? _proxyKey;
    private int _status = (int)TunnelStatus.Connecting;
    private int _pingsSent;
    private Task? _stopTask;

    public TunnelClient(TunnelClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("TunnelPS.Client");
        _work = new ConcurrentWork(_logger);
        foreach (var definition in options.Tunnels)
        {
            if (definition.IsHttp && definition.Capture.Enabled)
            {
                _captures[definition] = new CaptureStore(definition.Capture.Capacity) { MaxBodySize = definition.Capture.BodyLimit, MaxBytes = definition.Capture.MaxBytes, Logger = _logger };
            }
        }
        _servers = new ServerRotation(options.Server, options.FallbackServers);
        _forwarder = new LocalForwarder(options, _logger, _endpoints.FindLive, CaptureFor, () => CurrentServer);
        _opener = new TunnelOpener(this, _endpoints, _logger);
        _reconnect = new ReconnectLoop(options, _servers, _endpoints, _logger, token => ConnectAsync(firstTime: false, token), ex => Error = ex);
    }

    /// <summary>The server (cluster node) the client is connected to, or will dial next.</summary>
    public ServerAddress CurrentServer => _servers.Current;

    public TunnelClientOptions Options => _options;
    public string ClientId => _clientId;
    public TunnelStatus Status => (TunnelStatus)Volatile.Read(ref _status);

    /// <summary>The error that stopped the client (Failed) or the last disconnect reason (Reconnecting).</summary>
    public Exception? Error { get; private set; }

    /// <summary>True when the server announced the TunnelPS capability.</summary>
    public bool ServerIsTunnelPS { get; private set; }

    /// <summary>True when visitors arrive as streams over multiplexed links (the server took the capability).</summary>
    public bool UsesLinks { get; private set; }

    /// <summary>Multiplexed links open now (0 when the pool is used).</summary>
    internal int LinkCount => _control?.Links?.OpenCount ?? 0;

    /// <summary>True when the server announced that it enforces per-tunnel IP rules.</summary>
    public bool ServerEnforcesIPRules { get; private set; }

    /// <summary>Background tasks still running: control loops and proxy connections (for leak checks in tests).</summary>
    internal int ActiveWorkCount => _work.Count;

    /// <summary>Proxy connections dialled so far (none when visitors travel over multiplexed links).</summary>
    internal long ProxyDialCount => _forwarder.ProxyDialCount;

    /// <summary>The id of the proxy connection that most recently received a StartProxy.</summary>
    internal long LastStartedConnectionId => _forwarder.LastStartedConnectionId;

    /// <summary>The client's log (its endpoints log through it).</summary>
    internal ILogger Logger => _logger;

    /// <summary>The capture store of a tunnel definition (null when capture is off or the tunnel is tcp).</summary>
    public CaptureStore? CaptureFor(TunnelDefinition definition) => _captures.TryGetValue(definition, out var store) ? store : null;

    /// <summary>Test hook: cuts the control connection without a goodbye, as a network failure would.</summary>
    internal void AbortControlForTest() => _control?.Abort("aborted by a test");

    /// <summary>Test hook: ignore Pong messages, as if the server stopped answering.</summary>
    internal bool SuppressPongsForTest { get; set; }

    /// <summary>Test hook: Ping messages sent so far.</summary>
    internal int PingsSentForTest => Volatile.Read(ref _pingsSent);

    /// <summary>
    /// Test hook: when set, a reconnect throws what it returns before its first attempt, as a bug would (an error the
    /// supervisor does not expect is final: the client fails and stops).
    /// </summary>
    internal Func<Exception>? ReconnectFaultForTest { get; set; }

    /// <summary>Completes when the client has stopped or failed.</summary>
    public Task Completion => _completion.Task;

    public event EventHandler? StatusChanged;

    public IReadOnlyList<TunnelEndpoint> Endpoints => _endpoints.Snapshot();

    /// <summary>
    /// Logs in and opens every tunnel; returns one endpoint per public URL once all are online. Throws
    /// <see cref="TunnelAuthenticationException"/>, <see cref="TunnelConnectionException"/> or
    /// <see cref="TunnelRequestException"/> (and leaves nothing running) when that fails.
    /// </summary>
    public async Task<IReadOnlyList<TunnelEndpoint>> StartAsync(CancellationToken cancellationToken = default)
    {
        foreach (var definition in _options.Tunnels)
        {
            definition.Validate();
        }
        if (_options.Tunnels.Count == 0)
        {
            throw new TunnelConfigurationException("No tunnel to open: give at least one tunnel definition.");
        }
        InlineCompletions.LogState(_logger, _options.InlineSocketCompletions);
        ControlConnection control;
        try
        {
            control = await ConnectFirstAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !_stop.IsCancellationRequested)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw new TunnelConnectionException(
                string.Create(CultureInfo.InvariantCulture, $"The tunnel server {CurrentServer} did not open the tunnels within {_options.StartTimeout.TotalSeconds:0} s."),
                kind: TunnelErrorKind.Timeout);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
        SetStatus(TunnelStatus.Online);
        Track(SuperviseAsync(control));
        return Endpoints;
    }

    /// <summary>The first login, within <see cref="TunnelClientOptions.StartTimeout"/> (on the options' clock), trying each node of a cluster once.</summary>
    private async Task<ControlConnection> ConnectFirstAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.StartTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token, timeout.Token);
        for (var tried = 1; ; tried++)
        {
            try
            {
                return await ConnectAsync(firstTime: true, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (tried < _servers.Count && !linked.IsCancellationRequested &&
                ex is TunnelConnectionException { Kind: TunnelErrorKind.Connection or TunnelErrorKind.Timeout } or IOException or System.Net.Sockets.SocketException)
            {
                // That node cannot be reached: the next one of the cluster may.
                ClientLog.Reconnecting(_logger, CurrentServer.ToString(), ex.Message, 0);
                _servers.Next();
            }
        }
    }

    private void SetStatus(TunnelStatus status)
    {
        if ((int)status != Interlocked.Exchange(ref _status, (int)status))
        {
            EventRaiser.Raise(StatusChanged, this);
        }
    }

    private void Track(Task task) => _work.Track(task);

    /// <summary>Runs for the client's life: waits for the control connection to end and reconnects. Never throws.</summary>
    private async Task SuperviseAsync(ControlConnection control)
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var reason = await control.Ended.ConfigureAwait(false);
                await control.DisposeAsync().ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    break;
                }
                Error = new TunnelConnectionException(reason);
                SetStatus(TunnelStatus.Reconnecting);
                _endpoints.SetAll(TunnelStatus.Reconnecting, reason);
                if (ReconnectFaultForTest is { } fault)
                {
                    throw fault();
                }
                control = await _reconnect.RunAsync(reason, token).ConfigureAwait(false);
                Error = null;
                TunnelMetrics.Reconnects.Add(1);
                SetStatus(TunnelStatus.Online);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            ClientShutdownLog.SupervisorEnded(_logger);
        }
#pragma warning disable CA1031 // The supervisor turns any failure into the Failed state instead of crashing the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Error = ex;
            ClientLog.Failed(_logger, ex.Message);
            _endpoints.SetAll(TunnelStatus.Failed, ex.Message);
            SetStatus(TunnelStatus.Failed);
            // Not awaited here (the stop waits for this very task); the stop task is owned: StopAsync, DisposeAsync and
            // Completion all wait for it, and it logs its own faults.
            BeginStop(TunnelStatus.Failed);
        }
    }

    /// <summary>Dials the current server, logs in, starts the connection's loops and opens the tunnels.</summary>
    private async Task<ControlConnection> ConnectAsync(bool firstTime, CancellationToken token)
    {
        var server = CurrentServer;
        var stream = await TunnelDialer.DialAsync(server, _options.Trust, _options.Proxy, _options.ConnectTimeout, _options.TimeProvider, token).ConfigureAwait(false);
        ControlConnection? control = null;
        try
        {
            var grant = await ClientLogin.LoginAsync(stream, _options, _clientId, server, token).ConfigureAwait(false);
            _clientId = grant.ClientId;
            ServerIsTunnelPS = grant.ServerIsTunnelPS;
            ServerEnforcesIPRules = grant.EnforcesIPRules;
            _proxyKey = grant.ProxyKey;
            UsesLinks = grant.UsesLinks;
            ClientLog.LoggedIn(_logger, server.ToString(), SessionLabel.Of(_clientId));
            control = new ControlConnection(stream);
            Track(ControlReceiver.RunAsync(control, OnProxyRequested, () => SuppressPongsForTest, _stop.Token));
            Track(ControlHeartbeat.RunAsync(control, _options, () => Interlocked.Increment(ref _pingsSent), _stop.Token));
            if (UsesLinks)
            {
                control.Links = new ClientLinks(_options with { Server = server }, _clientId, _proxyKey!, ServeStreamAsync, Track, _logger);
                control.Links.Start();
            }
            await _opener.OpenAsync(control, firstTime, server, ServerEnforcesIPRules, token).ConfigureAwait(false);
            if (control.Links is { } links)
            {
                // A visitor right after Start-Tunnel finds a link ready, as it would find a warm pool.
                await links.FirstReady.WaitAsync(token).ConfigureAwait(false);
            }
            _control = control;
            return control;
        }
        catch
        {
            if (control is not null)
            {
                await control.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>Answers one ReqProxy: a pooled proxy connection for the server, served when a visitor arrives on it.</summary>
    private void OnProxyRequested() => Track(_forwarder.ServePooledConnectionAsync(_clientId, _proxyKey, _stop.Token));

    /// <summary>A visitor's stream arrived on a multiplexed link: serve it.</summary>
    private Task ServeStreamAsync(MuxStream stream, string url, string clientAddress) => _forwarder.ServeStreamAsync(stream, url, clientAddress, _stop.Token);

    /// <summary>Stops one public URL. The last one stops the client; otherwise a TunnelPS server frees the name at once.</summary>
    public async Task CloseEndpointAsync(TunnelEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        endpoint.SetStatus(TunnelStatus.Stopped);
        _endpoints.Unroute(endpoint.PublicUrl);
        if (Endpoints.All(e => e.Status == TunnelStatus.Stopped))
        {
            await StopAsync().ConfigureAwait(false);
            return;
        }
        if (ServerIsTunnelPS && _control is { } control && !control.Ended.IsCompleted)
        {
            try
            {
                await control.SendAsync(new CloseTunnel { Url = endpoint.PublicUrl }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                ClientShutdownLog.CloseNotSent(_logger, endpoint.PublicUrl, ex.Message);
            }
        }
    }

    /// <summary>Closes the control connection and every proxy connection, and waits for them.</summary>
    public Task StopAsync()
    {
        BeginStop(TunnelStatus.Stopped);
        return Volatile.Read(ref _stopTask)!;
    }

    /// <summary>Starts the client's one stop, unless it has started already (then the first caller's final status holds).</summary>
    private void BeginStop(TunnelStatus final)
    {
        lock (_stopGate)
        {
            // Task.Run: the stop's code runs outside this lock.
            _stopTask ??= Task.Run(() => StopObservedAsync(final));
        }
    }

    /// <summary>The stop, which never faults: a failure is logged, and <see cref="Completion"/> completes either way.</summary>
    private async Task StopObservedAsync(TunnelStatus final)
    {
        try
        {
            await StopCoreAsync(final).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The stop is awaited by Stop-Tunnel and by Dispose: a failure is logged there, not thrown into the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClientShutdownLog.StopFailed(_logger, ex);
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    private async Task StopCoreAsync(TunnelStatus final)
    {
        if (ServerIsTunnelPS && _control is { Ended.IsCompleted: false } live)
        {
            await SayGoodbyeAsync(live).ConfigureAwait(false);
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_control is { } control)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            await _work.WhenAll().WaitAsync(TimeSpan.FromSeconds(10), _options.TimeProvider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or ObjectDisposedException or System.Net.Sockets.SocketException or TunnelException)
        {
            ClientShutdownLog.WorkNotEnded(_logger, ex.Message);
        }
        _endpoints.SetAll(final == TunnelStatus.Failed ? TunnelStatus.Failed : TunnelStatus.Stopped, final == TunnelStatus.Failed ? Error?.Message : null);
        if (Status != TunnelStatus.Failed)
        {
            SetStatus(final);
        }
    }

    /// <summary>Releases the names at once rather than leaving them reserved for a reconnect that will not come (2 s at most).</summary>
    private async Task SayGoodbyeAsync(ControlConnection live)
    {
        var url = "";
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2), _options.TimeProvider);
            foreach (var endpoint in Endpoints)
            {
                url = endpoint.PublicUrl;
                await live.SendAsync(new CloseTunnel { Url = url }, quick.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            ClientShutdownLog.CloseNotSent(_logger, url, ex.Message);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
