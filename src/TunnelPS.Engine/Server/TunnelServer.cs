using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

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
    private readonly ConcurrentWork _work;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TlsPortHandler _tlsHandler;
    private long _connectionIds;
    private int _status = (int)TunnelServerStatus.Starting;
    private readonly ServerMaintenance _maintenanceLoop;
    private readonly TunnelReservations _reservations;
    private Task _maintenance = Task.CompletedTask;
    private Task _heartbeat = Task.CompletedTask;
    private Task _acmeLoop = Task.CompletedTask;

    internal TunnelServer(TunnelServerOptions options, X509Certificate2 certificate, LocalCertificateAuthority? authority, TenantDirectory tenants, ServerListener tls, ServerListener? http, bool loopbackOnly)
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
        _work = new ConcurrentWork(_logger);
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
        if (options.Acme is { } acme)
        {
            Acme = new AcmeCertificates(acme, acme.StateFolder ?? AcmeStateFolder.DefaultFor(acme.Directory, options.CertificateFolder), options.Domain,
                host => !Registry.IsHostFree(host), _logger, options.TimeProvider);
            Certificates.Issued = Acme.OptionsFor;
        }
        _tlsHandler = new TlsPortHandler(this, Certificates, _logger);
        _maintenanceLoop = new ServerMaintenance(this, _logger);
        _reservations = new TunnelReservations(this);
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

    /// <summary>The ACME certificates of the names tunnels hold, or null without <see cref="TunnelServerOptions.Acme"/>.</summary>
    internal AcmeCertificates? Acme { get; }

    /// <summary>Every ACME certificate and order of the server (empty without ACME): names, issuer, expiry, status.</summary>
    public IReadOnlyList<AcmeCertificateInfo> AcmeCertificates => Acme?.Snapshot() ?? [];

    /// <summary>This server's membership of a cluster, or null for a single server.</summary>
    internal ClusterNode? Cluster { get; set; }

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
        options = ServerOptionsValidation.Validate(options);
        return options.Cluster is null ? Task.FromResult(ServerStartup.Open(options, null)) : ServerStartup.StartNodeAsync(options, cancellationToken);
    }

    /// <summary>The context a TCP tunnel port's listener shares with the server.</summary>
    internal ServerListener BindTcpPort(int port) => ServerListener.Open(Options.BindAddress, LoopbackOnly, port);

    internal void Begin()
    {
        var token = _stop.Token;
        _tlsListener.Start(Connections, (socket, slot) => _tlsHandler.RunAsync(socket, slot, NextConnectionId(), token));
        _httpListener?.Start(Connections, (socket, slot) => HttpPortHandler.RunAsync(this, socket, _logger, token), RefusedHttpResponse);
        _maintenance = Supervise("maintenance", _maintenanceLoop.RunAsync(token));
        if (Acme is { } acme)
        {
            _acmeLoop = Supervise("acme", acme.RunAsync(token));
        }
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
        InlineCompletions.LogState(_logger, Options.InlineSocketCompletions);
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
        catch (Exception ex) when (_stop.IsCancellationRequested)
        {
            ServerLifecycleLog.LoopEndedAtStop(_logger, name, ex.Message);
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

    /// <summary>
    /// A session ended: its tunnels stay its tenant's for the reconnect grace (released at once when a single server
    /// stops); in a cluster the reservation moves to the cluster store (<see cref="TunnelReservations"/>).
    /// </summary>
    internal void ReserveTunnels(ControlSession session) => _reservations.Reserve(session);

    /// <summary>Removes the tunnel from the registry, closes its port and lets go of its cluster lease.</summary>
    internal void ReleaseTunnel(RegisteredTunnel tunnel) => _reservations.Release(tunnel);

    /// <summary>Test hook: maintenance ticks completed (a test that advances a fake clock waits for the tick's work).</summary>
    internal int MaintenanceTicksForTest => _maintenanceLoop.Ticks;

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
            await _acmeLoop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await _work.WhenAll().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            ServerLifecycleLog.StopWaitCut(_logger, ex.Message);
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
        Acme?.Dispose();
        SetStatus(final);
        _completion.TrySetResult();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
