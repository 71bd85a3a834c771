using System.Globalization;
using System.Management.Automation;
using System.Net;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using EngineServer = TunnelPS.Engine.Server.TunnelServer;
using EngineServerStatus = TunnelPS.Engine.Server.TunnelServerStatus;
using TunnelPS.Configuration;
using TunnelPS.Engine;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;
using TunnelPS.Errors;
using TunnelPS.Hosting;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Start-TunnelServer</c>: self-hosts a tunnel server in this PowerShell process. It keeps
/// running in the background of the session (Get-TunnelServer, Stop-TunnelServer); with
/// -Wait the command blocks until Ctrl+C or Stop-TunnelServer and then stops it cleanly.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "TunnelServer", DefaultParameterSetName = SelfSignedSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(TunnelServer))]
public sealed partial class StartTunnelServerCommand : TunnelCmdletBase
{
    /// <summary>The per-user self-signed certificate for -Domain.</summary>
    public const string SelfSignedSet = "SelfSigned";

    /// <summary>A certificate object given with -Certificate.</summary>
    public const string CertificateSet = "Certificate";

    /// <summary>A certificate file given with -CertificatePath.</summary>
    public const string CertificateFileSet = "CertificateFile";

    /// <summary>The domain public names live under.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Domain { get; set; } = "localhost";

    /// <summary>The TLS port (0 = a free one).</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Port { get; set; } = 8443;

    /// <summary>The address to listen on (default: every address with a token or -AllowAnonymous, else loopback only).</summary>
    [Parameter]
    [ValidateNotNull]
    public System.Net.IPAddress? BindAddress { get; set; }

    /// <summary>Lets a server without tokens listen beyond loopback: anyone who reaches it can open tunnels.</summary>
    [Parameter]
    public SwitchParameter AllowAnonymous { get; set; }

    /// <summary>
    /// Completes visitor and link socket events through the thread pool, never inline on the runtime's socket event
    /// thread (inline is the default on machines with up to 4 cores; TUNNELPS_INLINE_COMPLETIONS=0 turns it off for the session).
    /// </summary>
    [Parameter]
    public SwitchParameter NoInlineCompletions { get; set; }

    /// <summary>The plain HTTP port (0 = a free one, -1 = none).</summary>
    [Parameter]
    [ValidateRange(-1, 65535)]
    public int HttpPort { get; set; } = 8080;

    /// <summary>The TLS certificate, with its private key.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateSet)]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>A .pfx, or a .pem/.crt with a .key beside it.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateFileSet)]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath { get; set; }

    /// <summary>The password of the .pfx file.</summary>
    [Parameter(ParameterSetName = CertificateFileSet)]
    public SecureString? CertificatePassword { get; set; }

    /// <summary>Tokens clients must present; none accepts any client.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? AuthToken { get; set; }

    /// <summary>config: SecretManagement secrets (default vault) whose values are accepted as tokens too.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? AuthTokenSecret { get; set; }

    /// <summary>A YAML file of tenants (tokens or their SHA-256, reserved names and ports, limits), reloaded when it changes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AuthTokenFile { get; set; }

    /// <summary>Host names clients may ask for besides names under -Domain: exact names or *.suffix patterns.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? AllowedHostname { get; set; }

    /// <summary>Visitor and client addresses (CIDR ranges or single addresses) the server refuses on every port.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? DenyIP { get; set; }

    /// <summary>The most connections the server holds at once (0: sized from the descriptor limit).</summary>
    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public int MaxConnections { get; set; }

    /// <summary>The most connections one address may hold (visitors, and clients before they log in).</summary>
    [Parameter]
    [ValidateRange(1, 10_000_000)]
    public int MaxConnectionsPerIP { get; set; } = DefaultLimits.MaxConnectionsPerIP;

    /// <summary>The most TLS handshakes in progress at once.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int MaxConcurrentHandshakes { get; set; } = DefaultLimits.MaxConcurrentHandshakes;

    /// <summary>The most clients connected at once, over every token.</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int MaxSessions { get; set; } = DefaultLimits.MaxSessions;

    /// <summary>The most clients one token may have connected at once.</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int MaxSessionsPerToken { get; set; } = DefaultLimits.MaxSessionsPerToken;

    /// <summary>The most public URLs one client may hold.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int MaxTunnelsPerSession { get; set; } = DefaultLimits.MaxTunnelsPerSession;

    /// <summary>The most TCP ports one token may hold.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int MaxTcpPortsPerToken { get; set; } = DefaultLimits.MaxTcpPortsPerToken;

    /// <summary>The most visitor connections one tunnel may have open at once.</summary>
    [Parameter]
    [ValidateRange(1, 10_000_000)]
    public int MaxConnectionsPerTunnel { get; set; } = DefaultLimits.MaxConnectionsPerTunnel;

    /// <summary>The absolute time a visitor has to send a request head (seconds or a TimeSpan).</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan RequestHeadTimeout { get; set; } = DefaultLimits.RequestHeadTimeout;

    /// <summary>How long a write to a visitor may make no progress (seconds or a TimeSpan).</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan VisitorWriteTimeout { get; set; } = DefaultLimits.VisitorWriteTimeout;

    /// <summary>How long a keep-alive visitor connection may sit silent (seconds or a TimeSpan).</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan IdleTimeout { get; set; } = DefaultLimits.PublicIdleTimeout;

    /// <summary>How long a TLS client's ClientHello may take to arrive in full, from its first byte (seconds or a TimeSpan).</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan ClientHelloTimeout { get; set; } = DefaultLimits.ClientHelloTimeout;

    /// <summary>The ports TCP tunnels get when they ask for none, "first-last".</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TcpPortRange { get; set; }

    /// <summary>Append the server's log to this file as JSON lines (Information and above; Debug with -Debug).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? LogPath { get; set; }

    /// <summary>Block until Ctrl+C or Stop-TunnelServer, then stop the server.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>Makes the server a node of a cluster sharing names in Redis: redis://host:port[,host:port].</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Cluster { get; set; }

    /// <summary>The secret every node of the cluster shares (at least 16 characters).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClusterSecret { get; set; }

    /// <summary>A SecretManagement secret (default vault) holding the cluster secret.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClusterSecretName { get; set; }

    /// <summary>A PEM file with the CA that signed the Redis server's certificate, for a rediss:// -Cluster (default: the host's trusted CAs).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClusterCaFile { get; set; }

    /// <summary>A SecretManagement secret (default vault) holding the Redis password (instead of one in -Cluster).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClusterPasswordName { get; set; }

    /// <summary>This node's name in the cluster (default: the computer name).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    /// <summary>The host:port other nodes dial to reach this node (default: -Domain and -Port).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeAddress { get; set; }

    /// <summary>How long Ctrl+C on -Wait waits for the server to close its connections.</summary>
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The engine's defaults, shown as the parameters' defaults.</summary>
    private static readonly TunnelServerOptions DefaultLimits = new();

    /// <summary>Starts the server, writes it, and with -Wait blocks until it stops.</summary>
    protected override void ProcessRecord()
    {
        ApplyConfigFile();
        (int First, int Last)? range = TcpPortRange is null ? null : ParsePortRange(TcpPortRange);
        X509Certificate2? certificate = LoadCertificate();
        ClusterOptions? cluster = ReadClusterOptions();
        AcmeOptions? acme = ReadAcmeOptions();
        if (!ShouldProcess(StartTarget(acme), "Start tunnel server"))
        {
            return;
        }

        var log = new EngineLogRoute();
        log.Attach(Bridge, EngineLogRoute.MinimumLevelFor(this));
        OpenLogFile(log);
        try
        {
            TunnelServerOptions options = CreateOptions(certificate, cluster, acme, range).WithLogCallback(log.Write, log.IsEnabled);
            if (NoInlineCompletions)
            {
                options = options with { InlineSocketCompletions = false };
            }
            EngineServer engine;
            try
            {
                engine = RunAndDrain(ct => EngineServer.StartAsync(options, ct));
            }
            catch (Exception ex) when (ex is not PipelineStoppedException)
            {
                log.File?.Dispose();
                string target = string.Create(CultureInfo.InvariantCulture, $"{Domain}:{Port}");
                ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.ServerStartFailed, target));
                return;
            }

            if (log.File is { } file)
            {
                // The file closes when the server stops, however it stops.
                _ = engine.Completion.ContinueWith(_ => file.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }

            if (acme?.DnsProvider is IDisposable script)
            {
                // The -AcmeDnsScript runspace closes when the server stops, however it stops.
                _ = engine.Completion.ContinueWith(_ => script.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }

            TunnelServer server = SessionRegistry.AddServer(engine, log);
            WriteObject(server);
            if (Wait)
            {
                WaitUntilStopped(server, log);
            }
        }
        finally
        {
            log.Detach(Bridge);
        }
    }

    /// <summary>What -WhatIf and -Confirm name: the domain, the ports, and where certificates come from with ACME.</summary>
    private string StartTarget(AcmeOptions? acme)
    {
        string tls = Port == 0 ? "a free TLS port" : string.Create(CultureInfo.InvariantCulture, $"TLS port {Port}");
        string http = HttpPort switch
        {
            < 0 => "no plain HTTP port",
            0 => "plain HTTP on a free port",
            _ => string.Create(CultureInfo.InvariantCulture, $"plain HTTP on port {HttpPort}"),
        };
        string certificates = acme is null ? "" : $", certificates from {acme.Directory}";
        return $"*.{Domain}: {tls}, {http}{certificates}";
    }

    /// <summary>-LogPath: opens the JSON lines file the server's log also goes to; a file that cannot be written is a terminating error.</summary>
    private void OpenLogFile(EngineLogRoute log)
    {
        if (LogPath is null)
        {
            return;
        }

        try
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(LogPath);
            log.File = JsonLinesLogFile.Open(path, Math.Min(2, EngineLogRoute.MinimumLevelFor(this)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException)
        {
            log.Detach(Bridge);
            var error = new IOException($"Cannot write the log file '{LogPath}': {ex.Message}", ex);
            ThrowTerminatingError(new ErrorRecord(error, ErrorIds.ServerStartFailed, ErrorCategory.WriteError, LogPath));
        }
    }

    /// <summary>The engine's options from the parameters (after the config file filled those not given).</summary>
    private TunnelServerOptions CreateOptions(X509Certificate2? certificate, ClusterOptions? cluster, AcmeOptions? acme, (int First, int Last)? range) => new()
    {
        Domain = Domain,
        Port = Port,
        HttpPort = HttpPort,
        BindAddress = BindAddress,
        AllowAnonymous = AllowAnonymous,
        Certificate = certificate,
        AuthTokens = [.. AuthToken ?? [], .. ReadSecretTokens()], // config: -AuthTokenSecret
        AuthTokenFile = AuthTokenFile is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(AuthTokenFile),
        AllowedHostnames = AllowedHostname ?? [],
        DenyIP = DenyIP ?? [],
        TcpPortRange = range,
        MaxConnections = MaxConnections,
        MaxConnectionsPerIP = MaxConnectionsPerIP,
        MaxConcurrentHandshakes = MaxConcurrentHandshakes,
        MaxSessions = MaxSessions,
        MaxSessionsPerToken = MaxSessionsPerToken,
        MaxTunnelsPerSession = MaxTunnelsPerSession,
        MaxTcpPortsPerToken = MaxTcpPortsPerToken,
        MaxConnectionsPerTunnel = MaxConnectionsPerTunnel,
        RequestHeadTimeout = RequestHeadTimeout,
        VisitorWriteTimeout = VisitorWriteTimeout,
        PublicIdleTimeout = IdleTimeout,
        ClientHelloTimeout = ClientHelloTimeout,
        Cluster = cluster,
        Acme = acme,
    };

    private void WaitUntilStopped(TunnelServer server, EngineLogRoute log)
    {
        // The table view of the server object is shown only when the pipeline ends, so while this command blocks,
        // say where the server is on the host (the information stream with the PSHOST tag, as Write-Host does).
        string http = server.HttpPort < 0 ? "no plain HTTP port" : string.Create(CultureInfo.InvariantCulture, $"HTTP on port {server.HttpPort}");
        string reach = server.LoopbackOnly ? " Listening on loopback only." : string.Empty;
        string banner = string.Create(CultureInfo.InvariantCulture,
            $"TunnelPS server for *.{server.Domain}: clients dial {server.ServerAddress} (tunnel protocol and HTTPS on port {server.Port}), {http}.{reach} Certificate SHA-256 {server.CertificateThumbprint}, public key pin {server.SpkiPin}. Press Ctrl+C to stop.");
        WriteInformation(new HostInformationMessage { Message = banner }, ["PSHOST"]);
        // From here on the server's activity (logins, refusals, tunnels opened and closed) is shown as it happens, as
        // Kestrel's and Caddy's console logs do; the banner above already says where it listens.
        log.Attach(Bridge, EngineLogRoute.MinimumLevelFor(this), informationToHost: true);
        WriteVerbose($"Serving {server.ServerAddress} until Ctrl+C or Stop-TunnelServer.");
        try
        {
            RunAndDrain(async ct =>
            {
                try
                {
                    await server.Engine.Completion.WaitAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    await server.Engine.StopAsync().ConfigureAwait(false);
                    throw;
                }
            });
        }
        catch (PipelineStoppedException)
        {
            // Ctrl+C: the prompt comes back only once the ports are closed.
            server.Engine.StopAsync().Wait(s_stopTimeout);
            throw;
        }

        if (server.Engine.Status == EngineServerStatus.Failed)
        {
            Exception reason = server.Engine.Error ?? new InvalidOperationException($"The tunnel server {server.ServerAddress} failed.");
            WriteError(ErrorMapper.ToErrorRecord(reason, ErrorIds.ServerFailed, server));
        }
    }

    private X509Certificate2? LoadCertificate()
    {
        if (ParameterSetName == CertificateSet)
        {
            return Certificate;
        }

        if (CertificatePath is null)
        {
            return null;
        }

        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(CertificatePath);
        string? password = CertificatePassword is null ? null : new NetworkCredential(string.Empty, CertificatePassword).Password;
        try
        {
            return CertificateStore.LoadFromFile(path, password);
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.CertificateLoadFailed, CertificatePath));
            return null;
        }
    }

    private void ThrowInvalid(string message, object target) =>
        ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target));
}
