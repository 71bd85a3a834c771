using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
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
/// <para>
/// The server faces the internet: every connection is counted against the server's and its address's limits before
/// any work is spent on it, handshakes are bounded, clients are tenants by token (names and ports belong to a token),
/// and no background loop can end the host process.
/// </para>
/// </summary>
public sealed class TunnelServer : IAsyncDisposable
{
    private readonly ServerListener _tlsListener;
    private readonly ServerListener? _httpListener;
    private readonly ConcurrentWork _work = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TlsPortHandler _tlsHandler;
    private long _connectionIds;
    private int _status = (int)TunnelServerStatus.Starting;
    private Task _maintenance = Task.CompletedTask;
    private Task _heartbeat = Task.CompletedTask;

    private TunnelServer(TunnelServerOptions options, X509Certificate2 certificate, LocalCertificateAuthority? authority, TenantDirectory tenants, ServerListener tls, ServerListener? http, bool loopbackOnly)
    {
        // Decided once, from the platform's calls: what is missing here is turned off and logged below, never fatal.
        Platform = PlatformSupport.Probe(options.Platform ?? PlatformCalls.System);
        Options = options.InlineSocketCompletions && !Platform.InlineCompletions ? options with { InlineSocketCompletions = false } : options;
        Certificate = certificate;
        CertificateAuthority = authority?.PublicCertificate;
        Tenants = tenants;
        _tlsListener = tls;
        _httpListener = http;
        LoopbackOnly = loopbackOnly;
        Port = tls.Port;
        HttpPort = http?.Port ?? -1;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("TunnelPS.Server");
        var os = RuntimeInformation.OSDescription;
        var architecture = RuntimeInformation.ProcessArchitecture.ToString();
        foreach (var (feature, fallback) in Platform.TurnedOff)
        {
            PlatformLog.FeatureOff(_logger, os, architecture, feature, fallback);
        }
        var budget = Platform.ConnectionBudget;
        var maxConnections = options.MaxConnections > 0 ? Math.Min(options.MaxConnections, budget) : budget;
        Connections = new ConnectionContext(
            new ConnectionLimiter(maxConnections, options.MaxConnectionsPerIP),
            IPAccessList.Parse(null, options.DenyIP, "-DenyIP"),
            _logger,
            new LogThrottle(options.TimeProvider, TimeSpan.FromSeconds(10)),
            options.TimeProvider,
            Track);
        Deadlines = new DeadlineMonitor(options.TimeProvider, TimeSpan.FromSeconds(1));
        Registry = new TunnelRegistry();
        Sessions = new SessionTable(this, _logger);
        Registrar = new TunnelRegistrar(this);
        Certificates = new ServerCertificateSelector(certificate, authority, options.Domain, ServesHttps, options.TimeProvider);
        _tlsHandler = new TlsPortHandler(this, Certificates, _logger);
        StartTime = options.TimeProvider.GetUtcNow();
        CertificateThumbprint = CertificateStore.Thumbprint(certificate);
        SpkiPin = CertificateStore.SpkiPin(certificate);
    }

    public TunnelServerOptions Options { get; }

    /// <summary>What this computer's platform calls allow, and the fallbacks the server chose (docs/platforms.md).</summary>
    internal PlatformSupport Platform { get; }

    /// <summary>The certificate of the control plane (and of every name that gets no minted certificate): what clients pin.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The SHA-256 fingerprint of <see cref="Certificate"/>, 64 hex characters: the pin of -ServerCertificateThumbprint.</summary>
    public string CertificateThumbprint { get; }

    /// <summary>
    /// The public key pin of every certificate the server shows ("sha256//" and base64, curl's --pinnedpubkey form):
    /// minted certificates share the key of <see cref="Certificate"/>.
    /// </summary>
    public string SpkiPin { get; }

    /// <summary>The local CA that issued the server's certificates (no private key), or null when the user gave the certificate.</summary>
    public X509Certificate2? CertificateAuthority { get; }

    /// <summary>Chooses each TLS handshake's certificate by SNI, minting per host with the local CA.</summary>
    internal ServerCertificateSelector Certificates { get; }
    public string Domain => Options.Domain;
    public int Port { get; }
    public int HttpPort { get; }
    public DateTimeOffset StartTime { get; }

    /// <summary>True when the server listens on loopback only (no tokens and no -AllowAnonymous, or a loopback bind address).</summary>
    public bool LoopbackOnly { get; }

    /// <summary>True when clients need no token (a loopback server without tokens, or -AllowAnonymous).</summary>
    public bool IsAnonymous => Tenants.IsAnonymous;

    /// <summary>The most connections the server holds at once (from -MaxConnections and the descriptor limit).</summary>
    public int MaxConnections => Connections.Limiter.MaxTotal;

    /// <summary>Connections held right now, over every port.</summary>
    public int ConnectionCount => Connections.Limiter.Total;

    /// <summary>The address clients dial: domain:port.</summary>
    public string ServerAddress => string.Create(CultureInfo.InvariantCulture, $"{Domain}:{Port}");

    public TunnelServerStatus Status => (TunnelServerStatus)Volatile.Read(ref _status);

    /// <summary>Why the server failed, when <see cref="Status"/> is Failed.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Completes when the server has stopped.</summary>
    public Task Completion => _completion.Task;

    public event EventHandler? StatusChanged;

    internal TunnelRegistry Registry { get; }
    internal TenantDirectory Tenants { get; }
    internal SessionTable Sessions { get; }
    internal TunnelRegistrar Registrar { get; }
    internal ConnectionContext Connections { get; }
    internal DeadlineMonitor Deadlines { get; }
    internal CancellationToken Stopping => _stop.Token;
    internal TlsPortHandler TlsHandler => _tlsHandler;

    /// <summary>This server's membership of a cluster, or null for a single server.</summary>
    internal ClusterNode? Cluster { get; private set; }

    /// <summary>The cluster node's name, or null for a single server.</summary>
    public string? NodeName => Cluster?.Name;

    /// <summary>
    /// The nodes of the cluster alive now, as their heartbeats describe them (this one included); empty for a single
    /// server. Throws <see cref="TunnelConnectionException"/> when the cluster store does not answer.
    /// </summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> GetClusterNodesAsync(CancellationToken cancellationToken = default)
    {
        if (Cluster is null)
        {
            return [];
        }
        try
        {
            return await Cluster.NodesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            throw new TunnelConnectionException(ex.Message, ex);
        }
    }

    /// <summary>Connected clients.</summary>
    public int SessionCount => Sessions.Count;

    /// <summary>Connection tasks still running (for leak checks in tests).</summary>
    internal int ActiveWorkCount => _work.Count;

    /// <summary>Idle pooled proxy connections across all sessions.</summary>
    internal int IdleProxyCount => Sessions.All.Sum(s => s.Pool.IdleCount);

    /// <summary>True when an https tunnel (connected, or reserved for its client's return) holds <paramref name="host"/>.</summary>
    private bool ServesHttps(string host) => Registry.FindHttp("https", host) is not null;

    /// <summary>Multiplexed links open across all sessions.</summary>
    internal int LinkCount => Sessions.All.Sum(s => s.LinkCount);

    /// <summary>A snapshot of every public URL.</summary>
    public IReadOnlyList<ServerTunnelInfo> Tunnels =>
        Registry.All()
            .Select(t => new ServerTunnelInfo(t.Url, t.Protocol, t.Session?.Label ?? "", t.OwnerName, t.Session?.RemoteAddress, t.Session is not null, t.ConnectionCount, t.OpenConnections, t.StartTime))
            .OrderBy(t => t.StartTime)
            .ToList();

    /// <summary>
    /// Opens the listeners and starts serving; throws <see cref="TunnelConfigurationException"/> when a port is taken or
    /// an option cannot be used, and <see cref="ConfigurationException"/> for a bad token file.
    /// </summary>
    public static Task<TunnelServer> StartAsync(TunnelServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        options = Validate(options);
        return options.Cluster is null ? Task.FromResult(Open(options, null)) : StartNodeAsync(options, cancellationToken);
    }

    /// <summary>Connects to the cluster store first (a store that cannot be reached stops the start), then opens the server as a node.</summary>
    private static async Task<TunnelServer> StartNodeAsync(TunnelServerOptions options, CancellationToken cancellationToken)
    {
        IClusterStore store;
        try
        {
            store = await ClusterNode.ConnectStoreAsync(options.Cluster!, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            throw new TunnelConnectionException(ex.Message + " The node does not start without its cluster store.", ex);
        }
        try
        {
            return Open(options, store);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static TunnelServer Open(TunnelServerOptions options, IClusterStore? store)
    {
        var tenants = new TenantDirectory(options);
        var loopbackOnly = options.BindAddress is null ? tenants.IsAnonymous && !options.AllowAnonymous : ListenerSocket.IsLoopback(options.BindAddress);
        if (tenants.IsAnonymous && !options.AllowAnonymous && !loopbackOnly)
        {
            throw new TunnelConfigurationException(
                $"The server has no auth token, so anyone who reaches {options.BindAddress} could open tunnels on it. Give -AuthToken (or -AuthTokenFile), or -AllowAnonymous to accept that, or bind to loopback.");
        }
        X509Certificate2 certificate;
        LocalCertificateAuthority? authority = null;
        if (options.Certificate is not null)
        {
            certificate = options.Certificate;
        }
        else
        {
            (certificate, authority) = LoadDefaultCertificates(options);
        }
        if (!certificate.HasPrivateKey)
        {
            throw new TunnelConfigurationException("The server certificate has no private key; TLS needs one.");
        }
        var tls = OpenOrExplain(options.BindAddress, loopbackOnly, options.Port, "TLS (-Port)");
        ServerListener? http = null;
        try
        {
            if (options.HttpPort >= 0)
            {
                http = OpenOrExplain(options.BindAddress, loopbackOnly, options.HttpPort, "HTTP (-HttpPort)");
            }
        }
        catch
        {
            tls.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        var server = new TunnelServer(options, certificate, authority, tenants, tls, http, loopbackOnly);
        if (store is not null)
        {
            server.Cluster = new ClusterNode(server, options.Cluster!, store, server._logger);
        }
        server.Begin();
        return server;
    }

    private static (X509Certificate2 Certificate, LocalCertificateAuthority Authority) LoadDefaultCertificates(TunnelServerOptions options)
    {
        try
        {
            return CertificateStore.LoadOrCreateDefault(options.Domain, options.CertificateFolder, options.TimeProvider.GetUtcNow());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            var folder = options.CertificateFolder ?? CertificateStore.UserFolder;
            throw new TunnelConfigurationException(
                $"The default certificates of {options.Domain} could not be loaded or created in '{folder}': {MessageText.Clause(ex.Message)}. Check that the folder is yours and writable, or give a certificate with -Certificate or -CertificatePath.",
                ex);
        }
    }

    private static TunnelServerOptions Validate(TunnelServerOptions options)
    {
        var domain = options.Domain?.Trim().TrimEnd('.').ToLowerInvariant() ?? "";
        if (domain.Length == 0 || !HostNames.IsValidHostname(domain))
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
        var patterns = new List<string>();
        foreach (var pattern in options.AllowedHostnames)
        {
            var normalized = pattern?.Trim().TrimEnd('.').ToLowerInvariant() ?? "";
            if (!HostNames.IsValidPattern(normalized))
            {
                throw new TunnelConfigurationException($"-AllowedHostname '{pattern}' is not a host name or a pattern such as *.example.org.");
            }
            var bare = normalized.StartsWith("*.", StringComparison.Ordinal) ? normalized[2..] : normalized;
            if (HostNames.IsSameOrParent(bare, domain) && !normalized.StartsWith("*.", StringComparison.Ordinal))
            {
                throw new TunnelConfigurationException($"-AllowedHostname '{pattern}' is the server's domain or a parent of it; that name is never given to a client.");
            }
            patterns.Add(normalized);
        }
        CheckPositive(options.MaxConnectionsPerIP, "-MaxConnectionsPerIP");
        CheckPositive(options.MaxConcurrentHandshakes, "-MaxConcurrentHandshakes");
        CheckPositive(options.MaxSessions, "-MaxSessions");
        CheckPositive(options.MaxSessionsPerToken, "-MaxSessionsPerToken");
        CheckPositive(options.MaxTunnelsPerSession, "-MaxTunnelsPerSession");
        CheckPositive(options.MaxConnectionsPerTunnel, "-MaxConnectionsPerTunnel");
        if (options.ClientHelloTimeout <= TimeSpan.Zero)
        {
            throw new TunnelConfigurationException(string.Create(CultureInfo.InvariantCulture, $"-ClientHelloTimeout must be positive (it is {options.ClientHelloTimeout})."));
        }
        if (options.MaxTcpPortsPerToken < 0 || options.MaxConnections < 0)
        {
            throw new TunnelConfigurationException("-MaxTcpPortsPerToken and -MaxConnections must not be negative (-MaxConnections 0 sizes it from the descriptor limit).");
        }
        _ = IPAccessList.Parse(null, options.DenyIP, "-DenyIP");
        if (options.Cluster is { } cluster)
        {
            ValidateCluster(cluster);
        }
        return options with { Domain = domain, AllowedHostnames = patterns };
    }

    private static void ValidateCluster(ClusterOptions cluster)
    {
        if (cluster.Endpoints.Count == 0)
        {
            throw new TunnelConfigurationException("-Cluster names no Redis server. Give redis://host:port.");
        }
        if (string.IsNullOrEmpty(cluster.Secret) || cluster.Secret.Length < 16)
        {
            throw new TunnelConfigurationException("A cluster needs a secret of at least 16 characters that every node shares: give -ClusterSecret (or -ClusterSecretName for a SecretManagement secret).");
        }
        if (!ClusterOptions.IsValidNodeName(cluster.NodeName))
        {
            throw new TunnelConfigurationException($"-NodeName '{cluster.NodeName}' is not a node name: use 1 to 64 letters, digits, '.', '-' or '_'.");
        }
        if (cluster.RedisCaFile is not null && !cluster.RedisTls)
        {
            throw new TunnelConfigurationException("-ClusterCaFile checks the certificate of a Redis reached over TLS, but -Cluster is not a rediss:// address. Use rediss://host:port, or leave -ClusterCaFile out.");
        }
        if (cluster.NodeTimeout < TimeSpan.FromMilliseconds(300) || cluster.StoreTimeout <= TimeSpan.Zero)
        {
            throw new TunnelConfigurationException("The cluster's node timeout must be at least 300 ms and its store timeout positive.");
        }
    }

    private static void CheckPositive(int value, string name)
    {
        if (value < 1)
        {
            throw new TunnelConfigurationException(string.Create(CultureInfo.InvariantCulture, $"{name} must be at least 1 (it is {value})."));
        }
    }

    private static ServerListener OpenOrExplain(IPAddress? address, bool loopbackOnly, int port, string what)
    {
        try
        {
            return ServerListener.Open(address, loopbackOnly, port);
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
                string.Create(CultureInfo.InvariantCulture, $"Not allowed to listen on the {what} port {port}: {MessageText.Clause(ex.Message)}. Ports below 1024 need administrator rights (or CAP_NET_BIND_SERVICE on Linux)."));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new TunnelConfigurationException(
                string.Create(CultureInfo.InvariantCulture, $"Cannot listen on {address} for the {what} port {port}: {MessageText.Clause(ex.Message)}. Give an address of this host with -BindAddress."));
        }
    }

    /// <summary>The context a TCP tunnel port's listener shares with the server.</summary>
    internal ServerListener BindTcpPort(int port) => ServerListener.Open(Options.BindAddress, LoopbackOnly, port);

    private void Begin()
    {
        var token = _stop.Token;
        _tlsListener.Start(Connections, (socket, slot) => _tlsHandler.RunAsync(socket, slot, NextConnectionId(), token));
        _httpListener?.Start(Connections, (socket, slot) => HandleHttpConnectionAsync(socket, slot, token), RefusedHttpResponse);
        _maintenance = Supervise("maintenance", MaintenanceLoopAsync(token));
        if (Cluster is { } cluster)
        {
            _heartbeat = Supervise("cluster heartbeat", cluster.RunHeartbeatAsync(token));
            ClusterLog.Joined(_logger, cluster.Name, cluster.StoreDescription, cluster.Address);
            if (cluster.Options.NodeAddress is null && Domain != "localhost")
            {
                ClusterLog.NodeAddressDefaulted(_logger, cluster.Name, cluster.Address);
            }
        }
        SetStatus(TunnelServerStatus.Running);
        ServerLog.Listening(_logger, _tlsListener.Endpoints, _httpListener?.Endpoints ?? "none", Domain);
        if (LoopbackOnly && Tenants.IsAnonymous && Options.BindAddress is null)
        {
            ServerLog.LoopbackOnly(_logger, _tlsListener.Endpoints);
        }
        else if (Tenants.IsAnonymous && !LoopbackOnly)
        {
            ServerLog.AnonymousPublic(_logger, _tlsListener.Endpoints);
        }
        if (!Tenants.IsAnonymous)
        {
            ServerLog.TokensLoaded(_logger, Tenants.Count, Tenants.Source);
        }
    }

    /// <summary>What a visitor refused at accept on the plain HTTP port reads before the connection closes.</summary>
    internal static readonly byte[] RefusedHttpResponse = ErrorPages.Render(503, "Service Unavailable", "Too many connections",
        "The tunnel server holds as many connections as it may (in total or from your address). Close some connections, or try again in a moment.");

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
            Track(StopCoreAsync(TunnelServerStatus.Failed));
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
    internal void Track(Task task) => _work.Track(task);

    /// <summary>The bounds of a multiplexed link of this server, named <paramref name="name"/> in its log lines.</summary>
    internal MuxLinkLimits LinkLimits(string name, int? maxStreams = null) => new()
    {
        MaxStreams = maxStreams ?? Options.MaxStreamsPerLink,
        WriteTimeout = Options.LinkWriteTimeout,
        TimeProvider = Options.TimeProvider,
        Logger = _logger,
        Throttle = Connections.Throttle,
        Name = name,
    };

    private async Task HandleHttpConnectionAsync(Socket socket, ConnectionLimiter.ConnectionSlot slot, CancellationToken token)
    {
        var id = NextConnectionId();
        var remote = socket.RemoteEndPoint;
        try
        {
            if (Options.InlineSocketCompletions)
            {
                InlineCompletions.TryEnable(socket);
            }
            var stream = new NetworkStream(socket, ownsSocket: true);
            await new PublicHttpConnection(this, stream, "http", remote, id, _logger).RunAsync(token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // One connection's failure must never reach the accept loop or the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(_logger, id, ListenerSocket.Describe(remote), ex.Message);
            socket.Dispose();
        }
    }

    /// <summary>
    /// A session ended: its tunnels stay its tenant's for the reconnect grace (released at once when a single server
    /// stops). In a cluster the reservation lives in the cluster store, where the client takes its names back on any
    /// node (this one included), and this node lets go of them (and of their TCP ports) at once.
    /// </summary>
    internal void ReserveTunnels(ControlSession session)
    {
        var stopping = _stop.IsCancellationRequested;
        var until = Options.TimeProvider.GetUtcNow() + Options.ReconnectGrace;
        foreach (var tunnel in session.Tunnels)
        {
            if (Cluster is { } cluster)
            {
                // Only the first end of a session lets go (a replaced session ends twice: at the new login and when its run ends).
                if (Registry.Remove(tunnel))
                {
                    if (tunnel.Listener is { } listener)
                    {
                        Track(listener.DisposeAsync().AsTask());
                    }
                    if (tunnel.ClusterLease is { } lease && !HeldByAnotherScheme(tunnel, lease))
                    {
                        cluster.Reserve(lease);
                    }
                }
            }
            else if (stopping)
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
        if (Registry.Remove(tunnel))
        {
            if (tunnel.Listener is { } listener)
            {
                Track(listener.DisposeAsync().AsTask());
            }
            if (Cluster is { } cluster && tunnel.ClusterLease is { } lease && !HeldByAnotherScheme(tunnel, lease))
            {
                cluster.Release(lease);
            }
        }
    }

    /// <summary>True when the other scheme's tunnel of the same host still holds the same cluster lease (http+https).</summary>
    private bool HeldByAnotherScheme(RegisteredTunnel tunnel, ClusterLease lease) =>
        tunnel.Protocol != "tcp" && Registry.FindHttp(tunnel.Protocol == "http" ? "https" : "http", tunnel.Host) is { } other &&
        !ReferenceEquals(other, tunnel) && other.ClusterLease == lease;

    private async Task MaintenanceLoopAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), Options.TimeProvider);
        var tick = 0;
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            tick++;
            try
            {
                MaintenanceTick(tick);
            }
#pragma warning disable CA1031 // One failed tick (a bad token file, a session that throws) must not stop the next ones.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ServerLog.LoopFailed(_logger, "maintenance tick", ex);
            }
            Interlocked.Increment(ref _maintenanceTicks);
        }
    }

    private int _maintenanceTicks;

    /// <summary>Test hook: maintenance ticks completed (a test that advances a fake clock waits for the tick's work).</summary>
    internal int MaintenanceTicksForTest => Volatile.Read(ref _maintenanceTicks);

    private void MaintenanceTick(int tick)
    {
        Sessions.CheckHeartbeats(recycle: tick % 5 == 0);
        foreach (var expired in Registry.RemoveExpired(Options.TimeProvider.GetUtcNow()))
        {
            if (expired.Listener is { } listener)
            {
                Track(listener.DisposeAsync().AsTask());
            }
        }
        ReloadTokens();
    }

    /// <summary>
    /// Applies the token file once it has changed and settled (<see cref="TenantDirectory.ReloadIfChanged"/>). A file
    /// that cannot be used, or has no token list, keeps the tokens in force with a warning: clients are never cut off
    /// because the file was caught half-written.
    /// </summary>
    private void ReloadTokens()
    {
        TokenFileReload reload;
        try
        {
            reload = Tenants.ReloadIfChanged();
        }
        catch (Exception ex) when (ex is TunnelException or IOException or UnauthorizedAccessException)
        {
            TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "error"));
            ServerLog.TokenFileReloadFailed(_logger, Options.AuthTokenFile ?? "", ex.Message);
            return;
        }
        if (reload.HasNoList)
        {
            TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "no_list"));
            ServerLog.TokenFileWithoutList(_logger, Options.AuthTokenFile ?? "", Tenants.Count);
            return;
        }
        if (!reload.Applied)
        {
            return;
        }
        TunnelMetrics.TokenFileReloads.Add(1, new KeyValuePair<string, object?>("outcome", "applied"));
        ServerLog.TokensLoaded(_logger, Tenants.Count, Tenants.Source);
        Cluster?.ReservationsChanged();
        foreach (var key in reload.Revoked)
        {
            Sessions.EndTenant(key, "its token was removed from the token file");
        }
    }

    /// <summary>Test hook: stops as a node whose process died would, from the cluster's view (nothing more is written to Redis).</summary>
    internal Task KillForTestAsync()
    {
        Cluster?.AbandonStoreForTest();
        return StopAsync();
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
        await _tlsListener.DisposeAsync().ConfigureAwait(false);
        if (_httpListener is not null)
        {
            await _httpListener.DisposeAsync().ConfigureAwait(false);
        }
        Sessions.EndAll("the server is stopping");
        Cluster?.Links.CloseAll();
        if (Cluster is null)
        {
            foreach (var tunnel in Registry.All())
            {
                ReleaseTunnel(tunnel);
            }
        }
        try
        {
            await _maintenance.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await _heartbeat.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await _work.WhenAll().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        if (Cluster is { } cluster)
        {
            // The sessions' reservations are written (a rolling restart's clients take their names back elsewhere);
            // what is left of the registry is released here only.
            foreach (var tunnel in Registry.All())
            {
                if (Registry.Remove(tunnel) && tunnel.Listener is { } listener)
                {
                    await listener.DisposeAsync().ConfigureAwait(false);
                }
            }
            await cluster.DisposeAsync().ConfigureAwait(false);
        }
        Deadlines.Dispose();
        SetStatus(final);
        _completion.TrySetResult();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
