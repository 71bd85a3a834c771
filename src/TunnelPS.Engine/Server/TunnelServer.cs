using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>The lifecycle of a server.</summary>
public enum TunnelServerStatus
{
    Starting,
    Running,
    Stopping,
    Stopped,
    Failed,
}

/// <summary>
/// The self-hosted tunnel server: one TLS port carrying control, proxy and public HTTPS connections (told apart after
/// the handshake), a plain HTTP port, and one port per tcp tunnel. Start it with <see cref="StartAsync"/>; dispose or
/// <see cref="StopAsync"/> it to close every listener and session.
/// </summary>
public sealed class TunnelServer : IAsyncDisposable
{
    private readonly Socket _tlsListener;
    private readonly Socket? _httpListener;
    private readonly SslServerAuthenticationOptions _tlsOptions;
    private readonly ConcurrentDictionary<string, ControlSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _work = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly byte[][] _tokenHashes;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _connectionIds;
    private int _status = (int)TunnelServerStatus.Starting;
    private Task _loops = Task.CompletedTask;

    private TunnelServer(TunnelServerOptions options, X509Certificate2 certificate, Socket tlsListener, Socket? httpListener)
    {
        Options = options;
        Certificate = certificate;
        _tlsListener = tlsListener;
        _httpListener = httpListener;
        Port = ListenerSocket.PortOf(tlsListener);
        HttpPort = httpListener is null ? -1 : ListenerSocket.PortOf(httpListener);
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("TunnelPS.Server");
        _tokenHashes = options.AuthTokens.Select(t => SHA256.HashData(Encoding.UTF8.GetBytes(t))).ToArray();
        _tlsOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, null),
            EnabledSslProtocols = TlsDefaults.Protocols,
            ClientCertificateRequired = false,
            ApplicationProtocols = TlsDefaults.HttpAlpn,
        };
        Registry = new TunnelRegistry();
        StartTime = options.TimeProvider.GetUtcNow();
        CertificateThumbprint = CertificateStore.Thumbprint(certificate);
    }

    public TunnelServerOptions Options { get; }
    public X509Certificate2 Certificate { get; }
    public string CertificateThumbprint { get; }
    public string Domain => Options.Domain;
    public int Port { get; }
    public int HttpPort { get; }
    public DateTimeOffset StartTime { get; }

    /// <summary>The address clients dial: domain:port.</summary>
    public string ServerAddress => string.Create(CultureInfo.InvariantCulture, $"{Domain}:{Port}");

    public TunnelServerStatus Status => (TunnelServerStatus)Volatile.Read(ref _status);

    /// <summary>Why the server failed, when <see cref="Status"/> is Failed.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Completes when the server has stopped.</summary>
    public Task Completion => _completion.Task;

    public event EventHandler? StatusChanged;

    internal TunnelRegistry Registry { get; }

    /// <summary>Connected clients.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>Connection tasks still running (for leak checks in tests).</summary>
    internal int ActiveWorkCount => _work.Count;

    /// <summary>Idle pooled proxy connections across all sessions.</summary>
    internal int IdleProxyCount => _sessions.Values.Sum(s => s.Pool.IdleCount);

    /// <summary>A snapshot of every public URL.</summary>
    public IReadOnlyList<ServerTunnelInfo> Tunnels =>
        Registry.All()
            .Select(t => new ServerTunnelInfo(t.Url, t.Protocol, t.ClientId, t.Session?.RemoteAddress, t.Session is not null, t.ConnectionCount, t.StartTime))
            .OrderBy(t => t.StartTime)
            .ToList();

    /// <summary>Opens the listeners and starts serving; throws <see cref="TunnelConfigurationException"/> when a port is taken.</summary>
    public static Task<TunnelServer> StartAsync(TunnelServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        if (string.IsNullOrWhiteSpace(options.Domain) || !TunnelRegistry.IsValidHostname(options.Domain.ToLowerInvariant()))
        {
            throw new TunnelConfigurationException($"'{options.Domain}' is not a valid domain name for the server. Give a DNS name such as tunnel.example.com (default: localhost).");
        }
        if (options.Port is < 0 or > 65535 || options.HttpPort is < -1 or > 65535)
        {
            throw new TunnelConfigurationException("Server ports must be 0-65535 (0 picks a free port; -HttpPort -1 disables plain HTTP).");
        }
        if (options.TcpPortRange is { } range && (range.First < 1 || range.Last > 65535 || range.First > range.Last))
        {
            throw new TunnelConfigurationException($"The TCP port range {range.First}-{range.Last} is not valid; give two ports from 1 to 65535, the first not above the last.");
        }
        var certificate = options.Certificate ?? CertificateStore.LoadOrCreateDefault(options.Domain.ToLowerInvariant());
        if (!certificate.HasPrivateKey)
        {
            throw new TunnelConfigurationException("The server certificate has no private key; TLS needs one.");
        }
        var tls = OpenOrExplain(options.BindAddress, options.Port, "TLS (-Port)");
        Socket? http = null;
        try
        {
            if (options.HttpPort >= 0)
            {
                http = OpenOrExplain(options.BindAddress, options.HttpPort, "HTTP (-HttpPort)");
            }
        }
        catch
        {
            tls.Dispose();
            throw;
        }
        var server = new TunnelServer(options with { Domain = options.Domain.ToLowerInvariant() }, certificate, tls, http);
        server.Begin();
        return Task.FromResult(server);
    }

    private static Socket OpenOrExplain(IPAddress? address, int port, string what)
    {
        try
        {
            return ListenerSocket.Open(address, port);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"The {what} port {port} is already in use by another program. Stop it, or choose another port (0 picks a free one)."),
                TunnelErrorKind.Conflict);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Not allowed to listen on the {what} port {port}: {ex.Message}. Ports below 1024 need administrator rights (or CAP_NET_BIND_SERVICE on Linux)."));
        }
    }

    private void Begin()
    {
        var token = _stop.Token;
        var loops = new List<Task> { Supervise("tls-accept", AcceptLoopAsync(_tlsListener, HandleTlsConnectionAsync, token)) };
        if (_httpListener is not null)
        {
            loops.Add(Supervise("http-accept", AcceptLoopAsync(_httpListener, HandleHttpConnectionAsync, token)));
        }
        loops.Add(Supervise("maintenance", MaintenanceLoopAsync(token)));
        _loops = Task.WhenAll(loops);
        SetStatus(TunnelServerStatus.Running);
        ServerLog.Listening(_logger, _tlsListener.LocalEndPoint?.ToString() ?? "", _httpListener?.LocalEndPoint?.ToString() ?? "none", Domain);
    }

    private async Task Supervise(string name, Task loop)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            ServerLog.LoopFailed(_logger, name, ex);
            Error = ex;
            SetStatus(TunnelServerStatus.Failed);
            _ = StopCoreAsync(TunnelServerStatus.Failed);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void SetStatus(TunnelServerStatus status)
    {
        if ((int)status != Interlocked.Exchange(ref _status, (int)status))
        {
            EventRaiser.Raise(StatusChanged, this);
        }
    }

    internal long NextConnectionId() => Interlocked.Increment(ref _connectionIds);

    /// <summary>Keeps a per-connection task observed and waited for at shutdown.</summary>
    internal void Track(Task task)
    {
        _work.TryAdd(task, 0);
        _ = task.ContinueWith(t => _work.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task AcceptLoopAsync(Socket listener, Func<Socket, long, CancellationToken, Task> handler, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.TooManyOpenSockets)
            {
                continue;
            }
            SocketTuning.Apply(socket);
            Track(RunConnectionAsync(socket, handler, token));
        }
    }

    private async Task RunConnectionAsync(Socket socket, Func<Socket, long, CancellationToken, Task> handler, CancellationToken token)
    {
        var id = NextConnectionId();
        try
        {
            await handler(socket, id, token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // One connection's failure must never reach the accept loop or the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(_logger, id, ListenerSocket.Describe(SafeRemote(socket)), ex.Message);
            socket.Dispose();
        }
    }

    private static EndPoint? SafeRemote(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    private Task HandleHttpConnectionAsync(Socket socket, long connectionId, CancellationToken token)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        return new PublicHttpConnection(this, stream, "http", socket.RemoteEndPoint, connectionId, _logger).RunAsync(token);
    }

    private async Task HandleTlsConnectionAsync(Socket socket, long connectionId, CancellationToken token)
    {
        var remote = socket.RemoteEndPoint;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var handedOff = false;
        try
        {
            byte[] first = new byte[FrameCodec.HeaderLength];
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(token))
            {
                deadline.CancelAfter(Options.HandshakeTimeout);
                await ssl.AuthenticateAsServerAsync(_tlsOptions, deadline.Token).ConfigureAwait(false);
                var got = 0;
                while (got < first.Length)
                {
                    var n = await ssl.ReadAsync(first.AsMemory(got), deadline.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }
                    got += n;
                }
                if (!LooksLikeFrame(first))
                {
                    handedOff = true;
                    var https = new PrefixedStream(ssl, first);
                    await new PublicHttpConnection(this, https, "https", remote, connectionId, _logger).RunAsync(token).ConfigureAwait(false);
                    return;
                }
                var framed = new PrefixedStream(ssl, first);
                var message = await FrameCodec.ReadAsync(framed, deadline.Token).ConfigureAwait(false);
                switch (message)
                {
                    case Auth auth:
                        handedOff = true;
                        await RunControlAsync(framed, auth, remote, connectionId).ConfigureAwait(false);
                        return;
                    case RegProxy reg:
                        handedOff = RegisterProxy(framed, reg);
                        return;
                    default:
                        ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote),
                            $"first frame was {message?.Type ?? "nothing"}, expected Auth or RegProxy");
                        return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ProtocolException or SocketException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote), ex.Message);
        }
        finally
        {
            if (!handedOff)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A first 8 bytes that read as a small little-endian length (high bytes zero) is a frame; anything else is HTTP.</summary>
    internal static bool LooksLikeFrame(ReadOnlySpan<byte> first8)
    {
        var length = BinaryPrimitives.ReadInt64LittleEndian(first8);
        return length is > 0 and <= FrameCodec.MaxFrameLength;
    }

    private async Task RunControlAsync(Stream stream, Auth auth, EndPoint? remote, long connectionId)
    {
        var remoteText = ListenerSocket.Describe(remote);
        string? refusal = null;
        if (auth.Version != ProtocolVersion.Current)
        {
            refusal = $"Incompatible protocol version: this server speaks version {ProtocolVersion.Current}, the client sent '{auth.Version}'. Use an ngrok 1.x compatible client.";
        }
        else if (_tokenHashes.Length > 0 && !TokenAccepted(auth.User))
        {
            refusal = "The auth token was refused by the server. Check the token given with -AuthToken (or authtoken in the config file).";
        }
        else if (_sessions.Count >= Options.MaxSessions)
        {
            refusal = string.Create(CultureInfo.InvariantCulture, $"The server already serves {Options.MaxSessions} clients, its limit. Try again later.");
        }
        if (refusal is not null)
        {
            ServerLog.LoginRefused(_logger, connectionId, remoteText, refusal);
            try
            {
                await FrameCodec.WriteAsync(stream, new AuthResp { Error = refusal }, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            return;
        }
        var clientId = IsValidClientId(auth.ClientId) ? auth.ClientId : RandomClientId();
        var session = new ControlSession(this, stream, auth, clientId, remoteText, connectionId, _logger);
        if (_sessions.TryRemove(clientId, out var previous))
        {
            previous.End("replaced by a new login with the same client id");
        }
        _sessions[clientId] = session;
        ServerLog.ClientLoggedIn(_logger, connectionId, clientId, remoteText, auth.OS, auth.Arch, auth.MmVersion);
        await session.RunAsync().ConfigureAwait(false);
    }

    private bool TokenAccepted(string token)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token ?? ""));
        var accepted = false;
        foreach (var expected in _tokenHashes)
        {
            // Check every token so timing does not reveal which one matched.
            accepted |= CryptographicOperations.FixedTimeEquals(hash, expected);
        }
        return accepted;
    }

    private static bool IsValidClientId(string id) => id.Length is >= 8 and <= 64 && id.All(char.IsAsciiLetterOrDigit);

    private static string RandomClientId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    private bool RegisterProxy(Stream stream, RegProxy reg)
    {
        if (!_sessions.TryGetValue(reg.ClientId, out var session))
        {
            return false;
        }
        session.Pool.Offer(stream);
        return true;
    }

    internal void OnSessionEnded(ControlSession session)
    {
        _sessions.TryRemove(new KeyValuePair<string, ControlSession>(session.ClientId, session));
        var stopping = _stop.IsCancellationRequested;
        var until = Options.TimeProvider.GetUtcNow() + Options.ReconnectGrace;
        foreach (var tunnel in session.Tunnels)
        {
            if (stopping)
            {
                ReleaseTunnel(tunnel);
            }
            else if (ReferenceEquals(tunnel.Session, session))
            {
                tunnel.ReservedUntil = until;
                tunnel.Session = null;
            }
        }
    }

    internal void ReleaseTunnel(RegisteredTunnel tunnel)
    {
        if (Registry.Remove(tunnel) && tunnel.Listener is { } listener)
        {
            Track(listener.DisposeAsync().AsTask());
        }
    }

    /// <summary>Registers one protocol of a ReqTunnel; returns the tunnel or the error to send back.</summary>
    internal Task<(RegisteredTunnel? Tunnel, string? Error)> RegisterTunnelAsync(ControlSession session, string protocol, ReqTunnel request)
    {
        var now = Options.TimeProvider.GetUtcNow();
        switch (protocol)
        {
            case "http" or "https":
                return Task.FromResult(RegisterHttp(session, protocol, request, now));
            case "tcp":
                return Task.FromResult(RegisterTcp(session, request, now));
            default:
                return Task.FromResult<(RegisteredTunnel?, string?)>((null, $"Unknown tunnel protocol '{protocol}'; use http, https or tcp."));
        }
    }

    private (RegisteredTunnel?, string?) RegisterHttp(ControlSession session, string scheme, ReqTunnel request, DateTimeOffset now)
    {
        if (scheme == "http" && _httpListener is null)
        {
            return (null, "This server has no plain HTTP port; request an https tunnel.");
        }
        BasicAuthentication? auth = null;
        if (!string.IsNullOrEmpty(request.HttpAuth))
        {
            if (!BasicAuthentication.IsValidPair(request.HttpAuth))
            {
                return (null, "Basic auth must be given as user:password.");
            }
            auth = new BasicAuthentication(request.HttpAuth);
        }
        if (!string.IsNullOrEmpty(request.HostHeader) && (request.HostHeader.Length > 255 || request.HostHeader.Trim().Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            return (null, "The requested host header rewrite is not a valid host (host or host:port).");
        }
        string host;
        if (!string.IsNullOrWhiteSpace(request.Hostname))
        {
            host = request.Hostname.Trim().TrimEnd('.').ToLowerInvariant();
            if (!TunnelRegistry.IsValidHostname(host))
            {
                return (null, $"'{request.Hostname}' is not a valid host name.");
            }
        }
        else if (!string.IsNullOrWhiteSpace(request.Subdomain))
        {
            var label = request.Subdomain.Trim().ToLowerInvariant();
            if (!label.Split('.').All(TunnelRegistry.IsValidLabel))
            {
                return (null, $"'{request.Subdomain}' is not a valid subdomain: use letters, digits and '-', at most 63 characters, not starting or ending with '-'.");
            }
            host = label + "." + Domain;
        }
        else
        {
            host = "";
            for (var attempt = 0; attempt < 16; attempt++)
            {
                var candidate = TunnelRegistry.RandomName() + "." + Domain;
                if (Registry.FindHttp(scheme, candidate) is null)
                {
                    host = candidate;
                    break;
                }
            }
            if (host.Length == 0)
            {
                return (null, "Could not find a free random name; try again.");
            }
        }
        var port = scheme == "https" ? Port : HttpPort;
        var defaultPort = scheme == "https" ? 443 : 80;
        var url = port == defaultPort ? $"{scheme}://{host}" : string.Create(CultureInfo.InvariantCulture, $"{scheme}://{host}:{port}");
        var tunnel = new RegisteredTunnel
        {
            Url = url,
            Protocol = scheme,
            Host = host,
            Port = port,
            ClientId = session.ClientId,
            Auth = auth,
            HostHeader = string.IsNullOrWhiteSpace(request.HostHeader) ? null : request.HostHeader.Trim(),
            StartTime = now,
            Session = session,
        };
        if (!Registry.TryAddHttp(scheme, tunnel, now, out _))
        {
            return (null, $"The tunnel {url} is already registered by another client. Choose another -Subdomain or -Hostname.");
        }
        return (tunnel, null);
    }

    private (RegisteredTunnel?, string?) RegisterTcp(ControlSession session, ReqTunnel request, DateTimeOffset now)
    {
        if (request.RemotePort is < 0 or > 65535)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"Remote port {request.RemotePort} is not a port number (1-65535, or 0 for any)."));
        }
        TcpTunnelListener? listener = null;
        var port = request.RemotePort;
        var reserved = port > 0 ? Registry.FindReservedTcp(port, session.ClientId) : null;
        if (reserved is not null)
        {
            listener = reserved.Listener;
        }
        else if (port > 0 && Registry.FindTcp(port) is { } held)
        {
            return (null, string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is already used by another tunnel ({held.Url}). Ask for another -RemotePort, or 0 for any."));
        }
        else
        {
            try
            {
                listener = BindTcp(port);
            }
            catch (SocketException ex)
            {
                return (null, string.Create(CultureInfo.InvariantCulture, $"The remote port {port} is not available on this server: {ex.Message}. Ask for another -RemotePort, or 0 for any."));
            }
            catch (TunnelRequestException ex)
            {
                return (null, ex.Message);
            }
        }
        var actualPort = listener!.Port;
        var tunnel = new RegisteredTunnel
        {
            Url = string.Create(CultureInfo.InvariantCulture, $"tcp://{Domain}:{actualPort}"),
            Protocol = "tcp",
            Host = Domain,
            Port = actualPort,
            ClientId = session.ClientId,
            StartTime = reserved?.StartTime ?? now,
            Session = session,
            Listener = listener,
        };
        if (!Registry.TryAddTcp(tunnel, now, out _))
        {
            if (reserved is null)
            {
                Track(listener.DisposeAsync().AsTask());
            }
            return (null, string.Create(CultureInfo.InvariantCulture, $"The remote port {actualPort} is already used by another tunnel."));
        }
        listener.Tunnel = tunnel;
        if (reserved is null)
        {
            listener.Start();
        }
        return (tunnel, null);
    }

    private TcpTunnelListener BindTcp(int port)
    {
        if (port > 0 || Options.TcpPortRange is null)
        {
            return TcpTunnelListener.Bind(Options.BindAddress, port, this, _logger);
        }
        var (first, last) = Options.TcpPortRange.Value;
        var span = last - first + 1;
        var start = RandomNumberGenerator.GetInt32(span);
        for (var i = 0; i < span; i++)
        {
            var candidate = first + ((start + i) % span);
            if (Registry.FindTcp(candidate) is not null)
            {
                continue;
            }
            try
            {
                return TcpTunnelListener.Bind(Options.BindAddress, candidate, this, _logger);
            }
            catch (SocketException)
            {
            }
        }
        throw new TunnelRequestException(string.Create(CultureInfo.InvariantCulture, $"Every port of the server's TCP range {first}-{last} is in use."), TunnelErrorKind.LimitReached);
    }

    private async Task MaintenanceLoopAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), Options.TimeProvider);
        var tick = 0;
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            tick++;
            foreach (var session in _sessions.Values)
            {
                if (session.HeartbeatExpired(Options.TimeProvider, Options.HeartbeatTimeout))
                {
                    session.End(string.Create(CultureInfo.InvariantCulture, $"no heartbeat for {Options.HeartbeatTimeout.TotalSeconds:0} s"));
                }
                else if (tick % 5 == 0)
                {
                    session.Pool.Recycle();
                }
            }
            foreach (var expired in Registry.RemoveExpired(Options.TimeProvider.GetUtcNow()))
            {
                if (expired.Listener is { } listener)
                {
                    Track(listener.DisposeAsync().AsTask());
                }
            }
        }
    }

    /// <summary>Stops listening, ends every session and connection, and waits for them.</summary>
    public Task StopAsync() => StopCoreAsync(TunnelServerStatus.Stopped);

    private async Task StopCoreAsync(TunnelServerStatus final)
    {
        if (_stop.IsCancellationRequested)
        {
            await _completion.Task.ConfigureAwait(false);
            return;
        }
        if (final != TunnelServerStatus.Failed)
        {
            SetStatus(TunnelServerStatus.Stopping);
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _tlsListener.Dispose();
        _httpListener?.Dispose();
        foreach (var session in _sessions.Values)
        {
            session.End("the server is stopping");
        }
        foreach (var tunnel in Registry.All())
        {
            ReleaseTunnel(tunnel);
        }
        try
        {
            await _loops.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await Task.WhenAll(_work.Keys).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        SetStatus(final);
        _completion.TrySetResult();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
