using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// A tunnel client: one control connection to the server carrying any number of tunnels, proxy connections dialled
/// whenever the server asks (so visitors find them ready), a heartbeat, and reconnection with backoff and jitter that
/// asks for the same public names again. Start it with <see cref="StartAsync"/>; dispose it to close everything.
/// </summary>
public sealed class TunnelClient : IAsyncDisposable
{
    private readonly TunnelClientOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentWork _work = new();
    private readonly List<TunnelEndpoint> _endpoints = [];
    private readonly ConcurrentDictionary<string, TunnelEndpoint> _byUrl = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<TunnelDefinition, CaptureStore> _captures = new();
    private readonly LocalForwarder _forwarder;
    private readonly object _gate = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ControlConnection? _control;
    private string _clientId = "";
    private string? _proxyKey;
    private int _status = (int)TunnelStatus.Connecting;
    private int _stopping;
    private int _pingsSent;

    public TunnelClient(TunnelClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("TunnelPS.Client");
        foreach (var definition in options.Tunnels)
        {
            if (definition.IsHttp && definition.Capture.Enabled)
            {
                _captures[definition] = new CaptureStore(definition.Capture.Capacity) { MaxBodySize = definition.Capture.BodyLimit, MaxBytes = definition.Capture.MaxBytes };
            }
        }
        _servers = [options.Server, .. options.FallbackServers];
        _serverIndex = _servers.Length > 1 ? Random.Shared.Next(_servers.Length) : 0;
        _forwarder = new LocalForwarder(options, _logger, FindEndpoint, CaptureFor, () => CurrentServer);
    }

    private readonly ServerAddress[] _servers;
    private int _serverIndex;

    /// <summary>The server (cluster node) the client is connected to, or will dial next.</summary>
    public ServerAddress CurrentServer => _servers[Volatile.Read(ref _serverIndex)];

    /// <summary>Moves to the next server of the list (a no-op with one).</summary>
    private void NextServer() => Volatile.Write(ref _serverIndex, (_serverIndex + 1) % _servers.Length);

    /// <summary>The live endpoint for a public URL (null for an unknown or stopped one).</summary>
    private TunnelEndpoint? FindEndpoint(string url) =>
        _byUrl.TryGetValue(url, out var endpoint) && endpoint.Status != TunnelStatus.Stopped ? endpoint : null;

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

    /// <summary>The capture store of a tunnel definition (null when capture is off or the tunnel is tcp).</summary>
    public CaptureStore? CaptureFor(TunnelDefinition definition) => _captures.TryGetValue(definition, out var store) ? store : null;

    /// <summary>Test hook: cuts the control connection without a goodbye, as a network failure would.</summary>
    internal void AbortControlForTest() => _control?.Abort("aborted by a test");

    /// <summary>Test hook: ignore Pong messages, as if the server stopped answering.</summary>
    internal bool SuppressPongsForTest { get; set; }

    /// <summary>Test hook: Ping messages sent so far.</summary>
    internal int PingsSentForTest => Volatile.Read(ref _pingsSent);

    /// <summary>Completes when the client has stopped or failed.</summary>
    public Task Completion => _completion.Task;

    public event EventHandler? StatusChanged;

    public IReadOnlyList<TunnelEndpoint> Endpoints
    {
        get
        {
            lock (_gate)
            {
                return [.. _endpoints];
            }
        }
    }

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
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        linked.CancelAfter(_options.StartTimeout);
        ControlConnection control;
        try
        {
            for (var tried = 1; ; tried++)
            {
                try
                {
                    control = await ConnectAsync(firstTime: true, linked.Token).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (tried < _servers.Length && !linked.IsCancellationRequested &&
                    ex is TunnelConnectionException { Kind: TunnelErrorKind.Connection or TunnelErrorKind.Timeout } or IOException or System.Net.Sockets.SocketException)
                {
                    // That node cannot be reached: the next one of the cluster may.
                    ClientLog.Reconnecting(_logger, CurrentServer.ToString(), ex.Message, 0);
                    NextServer();
                }
            }
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
        var attempt = 0;
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
                foreach (var endpoint in Endpoints)
                {
                    endpoint.SetStatus(TunnelStatus.Reconnecting, reason);
                }
                var refused = false;
                while (true)
                {
                    var delay = ReconnectPolicy.Delay(attempt++, _options.ReconnectMinDelay, _options.ReconnectMaxDelay);
                    // With several nodes, each attempt goes to the next one: a node that went away is not waited for.
                    NextServer();
                    if (refused)
                    {
                        ClientLog.LoginRefusedRetrying(_logger, reason, CurrentServer.ToString(), (long)delay.TotalMilliseconds);
                    }
                    else
                    {
                        ClientLog.Reconnecting(_logger, CurrentServer.ToString(), reason, (long)delay.TotalMilliseconds);
                    }
                    await Task.Delay(delay, _options.TimeProvider, token).ConfigureAwait(false);
                    try
                    {
                        using var attemptToken = CancellationTokenSource.CreateLinkedTokenSource(token);
                        attemptToken.CancelAfter(_options.StartTimeout);
                        control = await ConnectAsync(firstTime: false, attemptToken.Token).ConfigureAwait(false);
                        attempt = 0;
                        Error = null;
                        TunnelMetrics.Reconnects.Add(1);
                        SetStatus(TunnelStatus.Online);
                        break;
                    }
                    catch (TunnelAuthenticationException ex)
                    {
                        // Refused after this client was accepted: the token was removed, or the server's token file is
                        // being rewritten, or the token is at its session limit for a moment. The admin may put it back,
                        // so the client keeps trying with back-off, the server's reason on the client and every URL.
                        // (A token refused at the very first login fails StartAsync at once instead.)
                        refused = true;
                        TunnelMetrics.LoginRefusals.Add(1);
                        reason = ex.Message;
                        Error = ex;
                        foreach (var endpoint in Endpoints)
                        {
                            endpoint.SetStatus(TunnelStatus.Reconnecting, reason);
                        }
                    }
                    catch (Exception ex) when (ex is TunnelException or IOException or System.Net.Sockets.SocketException or OperationCanceledException && !token.IsCancellationRequested)
                    {
                        refused = false;
                        reason = ex.Message;
                        Error = ex;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // The supervisor turns any failure into the Failed state instead of crashing the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Error = ex;
            ClientLog.Failed(_logger, ex.Message);
            foreach (var endpoint in Endpoints)
            {
                endpoint.SetStatus(TunnelStatus.Failed, ex.Message);
            }
            SetStatus(TunnelStatus.Failed);
            _ = StopCoreAsync(TunnelStatus.Failed);
        }
    }

    private async Task<ControlConnection> ConnectAsync(bool firstTime, CancellationToken token)
    {
        var server = CurrentServer;
        var stream = await TunnelDialer.DialAsync(server, _options.Trust, _options.Proxy, _options.ConnectTimeout, _options.TimeProvider, token).ConfigureAwait(false);
        ControlConnection? control = null;
        try
        {
            await FrameCodec.WriteAsync(stream, new Auth
            {
                User = _options.AuthToken,
                ClientId = _clientId,
                OS = OsName(),
                Arch = ArchName(),
                Capabilities = _options.UseMultiplexing
                    ? [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability]
                    : [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability],
            }, token).ConfigureAwait(false);
            var answer = await FrameCodec.ReadAsync(stream, token).ConfigureAwait(false);
            if (answer is not AuthResp authResp)
            {
                throw new TunnelConnectionException(answer is null
                    ? $"The tunnel server {server} closed the connection during login."
                    : $"The tunnel server {server} answered the login with {answer.Type} instead of AuthResp.", kind: TunnelErrorKind.Protocol);
            }
            if (!string.IsNullOrEmpty(authResp.Error))
            {
                throw new TunnelAuthenticationException($"The tunnel server {server} refused the login: {TerminalText.Line(authResp.Error)}");
            }
            _clientId = authResp.ClientId;
            ServerIsTunnelPS = authResp.Capabilities?.Contains(ProtocolVersion.TunnelPSCapability) == true;
            ServerEnforcesIPRules = authResp.Capabilities?.Contains(ProtocolVersion.IPRulesCapability) == true;
            _proxyKey = authResp.Capabilities?.Contains(ProtocolVersion.ProxyKeyCapability) == true ? authResp.ProxyKey : null;
            UsesLinks = _options.UseMultiplexing && _proxyKey is not null && authResp.Capabilities?.Contains(ProtocolVersion.MuxCapability) == true;
            ClientLog.LoggedIn(_logger, server.ToString(), SessionLabel.Of(_clientId));
            control = new ControlConnection(stream);
            var receive = ReceiveLoopAsync(control, _stop.Token);
            Track(receive);
            Track(HeartbeatLoopAsync(control, _stop.Token));
            if (UsesLinks)
            {
                control.Links = new ClientLinks(_options with { Server = server }, _clientId, _proxyKey!, ServeStreamAsync, Track, _logger);
                control.Links.Start();
            }
            await OpenTunnelsAsync(control, firstTime, token).ConfigureAwait(false);
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

    private async Task OpenTunnelsAsync(ControlConnection control, bool firstTime, CancellationToken token)
    {
        var requests = new List<(TunnelDefinition Definition, PendingRequest Pending)>();
        foreach (var definition in _options.Tunnels)
        {
            var existing = Endpoints.Where(e => ReferenceEquals(e.Definition, definition) && e.Status != TunnelStatus.Stopped).ToList();
            if (!firstTime && existing.Count == 0)
            {
                continue;
            }
            if (definition.HasIPRules && !ServerEnforcesIPRules)
            {
                // An ngrok 1.x server (or an older TunnelPS one) ignores AllowIP/DenyIP: opening the tunnel would expose it to every address.
                var refusal = $"The tunnel server {CurrentServer} does not enforce IP rules (it did not announce {ProtocolVersion.IPRulesCapability}), so it would ignore the IP rules of the tunnel {definition.Title} and let every address in. "
                    + "Remove the allow/deny rules to open it there, or use a TunnelPS server that enforces them.";
                if (firstTime)
                {
                    throw new TunnelRequestException(refusal, TunnelErrorKind.InvalidConfiguration);
                }
                ClientLog.ReopenFailed(_logger, definition.Name, refusal);
                foreach (var endpoint in existing)
                {
                    endpoint.SetStatus(TunnelStatus.Failed, refusal);
                }
                continue;
            }
            var request = BuildRequest(definition, firstTime ? null : existing);
            var pending = control.AddPending(request.ReqId, request.Protocol.Split('+').Length);
            requests.Add((definition, pending));
            await control.SendAsync(request, token).ConfigureAwait(false);
        }
        foreach (var (definition, pending) in requests)
        {
            var results = await pending.Completion.Task.WaitAsync(token).ConfigureAwait(false);
            // The server's words end up on the admin's terminal (exception, status, logs): shown, never acted on.
            var error = TerminalText.Line(results.FirstOrDefault(r => !string.IsNullOrEmpty(r.Error))?.Error);
            if (error is not null)
            {
                if (firstTime)
                {
                    throw new TunnelRequestException($"The tunnel server refused the tunnel {definition.Title}: {error}",
                        error.Contains("already", StringComparison.OrdinalIgnoreCase) ? TunnelErrorKind.Conflict : TunnelErrorKind.InvalidConfiguration);
                }
                ClientLog.ReopenFailed(_logger, definition.Name, error);
                foreach (var endpoint in Endpoints.Where(e => ReferenceEquals(e.Definition, definition)))
                {
                    endpoint.SetStatus(TunnelStatus.Failed, error);
                }
                continue;
            }
            foreach (var result in results)
            {
                var endpoint = Endpoints.FirstOrDefault(e => ReferenceEquals(e.Definition, definition) && e.Protocol == result.Protocol);
                if (endpoint is null)
                {
                    endpoint = new TunnelEndpoint(this, definition, result.Protocol, result.Url, _options.TimeProvider.GetUtcNow());
                    lock (_gate)
                    {
                        _endpoints.Add(endpoint);
                    }
                }
                else if (!string.Equals(endpoint.PublicUrl, result.Url, StringComparison.OrdinalIgnoreCase))
                {
                    _byUrl.TryRemove(endpoint.PublicUrl, out _);
                    endpoint.PublicUrl = result.Url;
                }
                _byUrl[result.Url] = endpoint;
                endpoint.SetStatus(TunnelStatus.Online);
                ClientLog.TunnelOnline(_logger, definition.Name, result.Url, definition.Local.ToString());
            }
        }
    }

    private static ReqTunnel BuildRequest(TunnelDefinition definition, IReadOnlyList<TunnelEndpoint>? previous)
    {
        var reqId = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var protocols = previous is null ? definition.Protocols : definition.Protocols.Where(p => previous.Any(e => e.Protocol == p)).ToList();
        var hostname = definition.Hostname ?? "";
        var subdomain = definition.Subdomain ?? "";
        var remotePort = definition.RemotePort;
        if (previous is { Count: > 0 } && Uri.TryCreate(previous[0].PublicUrl, UriKind.Absolute, out var url))
        {
            // Ask for exactly the name (or port) held before the disconnect.
            if (definition.Protocols.Contains("tcp"))
            {
                remotePort = url.Port;
            }
            else
            {
                hostname = url.Host;
                subdomain = "";
            }
        }
        return new ReqTunnel
        {
            ReqId = reqId,
            Protocol = string.Join('+', protocols),
            Hostname = hostname,
            Subdomain = subdomain,
            HttpAuth = definition.HttpAuth ?? "",
            RemotePort = remotePort,
            HostHeader = definition.EffectiveHostHeader,
            AllowIP = WireRules(definition.AllowIP),
            DenyIP = WireRules(definition.DenyIP),
        };
    }

    /// <summary>IP rules as ReqTunnel carries them: trimmed, or null when there are none (nothing changes on the wire).</summary>
    private static List<string>? WireRules(IReadOnlyList<string>? rules) =>
        rules is { Count: > 0 } ? rules.Select(r => r.Trim()).ToList() : null;

    private async Task ReceiveLoopAsync(ControlConnection control, CancellationToken token)
    {
        var reason = "the server closed the control connection";
        try
        {
            while (!token.IsCancellationRequested)
            {
                var message = await FrameCodec.ReadAsync(control.Stream, token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        return;
                    case ReqProxy:
                        Track(ProxyConnectionAsync(_stop.Token));
                        break;
                    case NewTunnel newTunnel:
                        control.Answer(newTunnel);
                        break;
                    case Pong when !SuppressPongsForTest:
                        control.PongReceived();
                        break;
                    case Pong:
                        break;
                    default:
                        throw new ProtocolException($"Unexpected {message.Type} message from the server on the control connection.");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ProtocolException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            reason = ex is OperationCanceledException ? "the client is stopping" : ex.Message;
        }
        finally
        {
            control.End(control.AbortReason ?? reason);
        }
    }

    private async Task HeartbeatLoopAsync(ControlConnection control, CancellationToken token)
    {
        try
        {
            while (!token.IsCancellationRequested && !control.Ended.IsCompleted)
            {
                await Task.WhenAny(Task.Delay(_options.HeartbeatInterval, _options.TimeProvider, token), control.Ended).ConfigureAwait(false);
                if (control.Ended.IsCompleted || token.IsCancellationRequested)
                {
                    return;
                }
                var pong = control.ArmPong();
                await control.SendAsync(new Ping(), token).ConfigureAwait(false);
                Interlocked.Increment(ref _pingsSent);
                var answered = await Task.WhenAny(pong, Task.Delay(_options.PongTimeout, _options.TimeProvider, token), control.Ended).ConfigureAwait(false);
                if (answered != pong && !control.Ended.IsCompleted && !token.IsCancellationRequested)
                {
                    control.Abort(string.Create(CultureInfo.InvariantCulture, $"no heartbeat answer from the server within {_options.PongTimeout.TotalSeconds:0} s"));
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            control.Abort("heartbeat failed: " + ex.Message);
        }
    }

    /// <summary>Answers one ReqProxy: a pooled proxy connection for the server, served when a visitor arrives on it.</summary>
    private Task ProxyConnectionAsync(CancellationToken token) => _forwarder.ServePooledConnectionAsync(_clientId, _proxyKey, token);

    /// <summary>A visitor's stream arrived on a multiplexed link: serve it.</summary>
    private Task ServeStreamAsync(MuxStream stream, string url, string clientAddress) => _forwarder.ServeStreamAsync(stream, url, clientAddress, _stop.Token);

    /// <summary>Stops one public URL. The last one stops the client; otherwise a TunnelPS server frees the name at once.</summary>
    public async Task CloseEndpointAsync(TunnelEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        endpoint.SetStatus(TunnelStatus.Stopped);
        _byUrl.TryRemove(endpoint.PublicUrl, out _);
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
                // The connection is gone; the server frees the name when the session ends.
            }
        }
    }

    /// <summary>Closes the control connection and every proxy connection, and waits for them.</summary>
    public Task StopAsync() => StopCoreAsync(TunnelStatus.Stopped);

    private async Task StopCoreAsync(TunnelStatus final)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            await _completion.Task.ConfigureAwait(false);
            return;
        }
        if (ServerIsTunnelPS && _control is { Ended.IsCompleted: false } live)
        {
            // Release the names at once rather than leaving them reserved for a reconnect that will not come.
            try
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                foreach (var endpoint in Endpoints)
                {
                    await live.SendAsync(new CloseTunnel { Url = endpoint.PublicUrl }, quick.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
            }
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_control is { } control)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            await _work.WhenAll().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or ObjectDisposedException or System.Net.Sockets.SocketException or TunnelException)
        {
        }
        foreach (var endpoint in Endpoints)
        {
            endpoint.SetStatus(final == TunnelStatus.Failed ? TunnelStatus.Failed : TunnelStatus.Stopped, final == TunnelStatus.Failed ? Error?.Message : null);
        }
        if (Status != TunnelStatus.Failed)
        {
            SetStatus(final);
        }
        _completion.TrySetResult();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static string OsName() =>
        OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : OperatingSystem.IsLinux() ? "linux" : RuntimeInformation.OSDescription;

    private static string ArchName() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        var other => other.ToString().ToLowerInvariant(),
    };
}
