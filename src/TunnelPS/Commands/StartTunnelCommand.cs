using System.Globalization;
using System.Management.Automation;
using System.Net;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Transport;
using TunnelPS.Configuration;
using TunnelPS.Display;
using TunnelPS.Errors;
using TunnelPS.Hosting;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Start-Tunnel</c>: opens a tunnel from a public URL on a tunnel server to a local
/// service, and writes one <see cref="Tunnel"/> per public URL (http and https are two).
/// Without -ServerAddress it uses the newest server started in this session.
/// </summary>
/// <remarks>
/// -Http and -Tcp have parameter sets of their own, so that named tunnels from the
/// configuration file (-Name blog,api, -All) can get a set of their own later.
/// </remarks>
// config: the default set is Config, so that "Start-Tunnel -Name blog,api" alone means the named tunnels of the
// config file; -Http/-Tcp still select their own sets.
[Cmdlet(VerbsLifecycle.Start, "Tunnel", DefaultParameterSetName = ConfigSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Tunnel))]
public sealed partial class StartTunnelCommand : TunnelCmdletBase
{
    /// <summary>An HTTP tunnel to a local port, host:port or URL.</summary>
    public const string HttpSet = "Http";

    /// <summary>A TCP tunnel to a local port or host:port.</summary>
    public const string TcpSet = "Tcp";

    /// <summary>The local HTTP service: 3000, host:port, http://host:port or https://host:port.</summary>
    [Parameter(Mandatory = true, ParameterSetName = HttpSet)]
    [ArgumentCompleter(typeof(Completers.LocalPortCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Http { get; set; }

    /// <summary>The local TCP service: 22 or host:port.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TcpSet)]
    [ArgumentCompleter(typeof(Completers.LocalPortCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Tcp { get; set; }

    /// <summary>The public schemes: http, https, or both (the default).</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateSet("http", "https")]
    public string[]? Scheme { get; set; }

    /// <summary>The public name under the server's domain.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateNotNullOrEmpty]
    public string? Subdomain { get; set; }

    /// <summary>A full public host name (it must point at the server).</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateNotNullOrEmpty]
    public string? Hostname { get; set; }

    /// <summary>Basic auth the server asks every visitor for.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [Credential]
    [ValidateNotNull]
    public PSCredential? Credential { get; set; }

    /// <summary>The Host header the local service receives: 'rewrite' (the local address) or a host[:port]; default: the visitor's.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.HostHeaderCompleter))]
    public string? HostHeader { get; set; }

    /// <summary>Do not capture this tunnel's HTTP exchanges.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    public SwitchParameter NoInspect { get; set; }

    /// <summary>How many captured exchanges to keep (the newest; default 1000).</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateRange(1, 100_000)]
    public int InspectLimit { get; set; } = 1000;

    /// <summary>Body bytes kept per side of a captured exchange (default 1 MiB); the rest is counted and marked truncated.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateRange(0, 64 * 1024 * 1024)]
    public int InspectBodyLimit { get; set; } = 1024 * 1024;

    /// <summary>The most memory the tunnel's capture holds, in bytes (default 64 MiB); the oldest exchanges are evicted to stay within it.</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [ValidateRange(64L * 1024, 64L * 1024 * 1024 * 1024)]
    public long InspectMemoryLimit { get; set; } = CaptureStore.DefaultMaxBytes;

    /// <summary>The public port of a TCP tunnel (0 = any).</summary>
    [Parameter(ParameterSetName = TcpSet)]
    [ValidateRange(0, 65535)]
    public int RemotePort { get; set; }

    /// <summary>
    /// Visitor addresses allowed to use the tunnel: IP addresses or CIDR ranges, IPv4 or IPv6. The server refuses every
    /// other address. For named tunnels it replaces the file's allow_ip.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? AllowIP { get; set; }

    /// <summary>Visitor addresses (IP addresses or CIDR ranges) the server refuses; deny wins over allow. For named tunnels it replaces deny_ip.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? DenyIP { get; set; }

    /// <summary>
    /// The tunnel server, host:port; several nodes of a cluster as an array (-ServerAddress node1:443,node2:443, which
    /// PowerShell passes as one) or as one comma-separated string.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.ServerAddressCompleter))]
    public string[]? ServerAddress { get; set; }

    /// <summary>-ServerAddress as one comma-separated list, or null.</summary>
    private string? ServerAddressList => ServerAddress is null ? null : string.Join(",", ServerAddress);

    /// <summary>The token the server expects.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AuthToken { get; set; }

    /// <summary>Trust exactly the server certificate with this SHA-256 fingerprint (64 hex digits; a SHA-1 thumbprint is refused).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ServerCertificateThumbprint { get; set; }

    /// <summary>Accept any server certificate (testing only).</summary>
    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>An HTTP proxy (http://host:port) to reach the server through.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Proxy { get; set; }

    /// <summary>The credential for -Proxy.</summary>
    [Parameter]
    [Credential]
    [ValidateNotNull]
    public PSCredential? ProxyCredential { get; set; }

    /// <summary>The tunnel's name in the session; default from the local address (http-3000).</summary>
    [Parameter(ParameterSetName = HttpSet)]
    [Parameter(ParameterSetName = TcpSet)]
    [Parameter(Mandatory = true, ParameterSetName = ConfigSet)] // config: named tunnels (StartTunnelCommand.Config.cs)
    [ArgumentCompleter(typeof(Completers.TunnelConfigNameCompleter))] // config
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>
    /// Show the tunnels' live status (a screen refreshed in place, or plain lines when the host is not an interactive
    /// console) until Ctrl+C, which stops them; the Tunnel objects are written only if they end on their own.
    /// </summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>
    /// Completes the tunnel's socket events through the thread pool, never inline on the runtime's socket event thread
    /// (inline is the default on machines with up to 4 cores; TUNNELPS_INLINE_COMPLETIONS=0 turns it off for the session).
    /// </summary>
    [Parameter]
    public SwitchParameter NoInlineCompletions { get; set; }

    /// <summary>Opens the tunnel and writes its public URLs.</summary>
    protected override void ProcessRecord()
    {
        ValidateIPRules(AllowIP, nameof(AllowIP));
        ValidateIPRules(DenyIP, nameof(DenyIP));
        ValidateInspectAddress(); // inspector: StartTunnelCommand.Inspector.cs
        if (ServerCertificateThumbprint is not null)
        {
            // Checked here for named tunnels too, so a bad pin is an argument error, not a config file error.
            Parse(() => CertificatePin.Normalize(ServerCertificateThumbprint, "-" + nameof(ServerCertificateThumbprint)), ServerCertificateThumbprint);
        }

        if (IsConfigSet) // config: -Name/-All from the config file (StartTunnelCommand.Config.cs)
        {
            StartFromConfig();
            return;
        }

        StartAdHoc();
    }

    /// <summary>
    /// -Http/-Tcp: one tunnel to the local address given. Server, token, trust and proxy come from the parameters, this
    /// session's server and the default config file, by <see cref="TunnelConfigResolver"/>'s precedence.
    /// </summary>
    private void StartAdHoc()
    {
        string localText = (ParameterSetName == TcpSet ? Tcp : Http)!;
        if (Name is { Length: > 1 })
        {
            ThrowInvalidArgument("Give one -Name with -Http or -Tcp; it names the tunnel this command opens.", string.Join(",", Name));
        }

        LocalTarget local = Parse(() => LocalTarget.Parse(localText), localText);
        var resolver = new TunnelConfigResolver(AdHocConfig(), ReadSecret);
        ResolvedServer server = ResolveAdHocServer(resolver);
        ServerTrust trust = resolver.ResolveTrust(CurrentOverrides(), server);
        ProxySettings? proxy = ResolveAdHocProxy(resolver); // config: -Proxy, else http_proxy, else environment
        List<string> protocols = ParameterSetName == TcpSet ? ["tcp"] : TunnelConfigResolver.ResolveSchemes(Scheme, _sessionServer is { HttpPort: < 0 });
        string? wanted = Subdomain ?? Hostname;
        string? requested = wanted is not null ? $", as {wanted}"
            : RemotePort > 0 ? string.Create(CultureInfo.InvariantCulture, $", remote port {RemotePort}") : null;
        string named = Name is { Length: 1 } ? $"'{Name[0]}': " : string.Empty;
        if (!ShouldProcess($"{named}{local} ({string.Join(", ", protocols)}{requested}) on {server.Address}", "Open tunnel"))
        {
            return;
        }

        string authToken = ResolveAdHocAuthToken(resolver, server); // config: -AuthTokenSecret, read once confirmed
        string name = ReserveName(local);
        TunnelDefinition definition = CreateDefinition(name, protocols, local);
        try
        {
            definition.Validate();
        }
        catch (TunnelException ex)
        {
            SessionRegistry.ReleaseNames([name]);
            ThrowInvalidArgument(ex.Message, localText);
        }

        var log = new EngineLogRoute();
        TunnelClientOptions options = new TunnelClientOptions
        {
            Server = server.Address,
            FallbackServers = server.Fallbacks,
            AuthToken = authToken,
            Trust = trust,
            Proxy = proxy,
            Tunnels = [definition],
        }.WithLogCallback(log.Write, log.IsEnabled);

        OpenAndWrite(options, log, [name], localText, $"Opening tunnel '{name}' to {local} on {server.Address}.");
    }

    /// <summary>The engine definition of the -Http/-Tcp tunnel, from its parameters.</summary>
    private TunnelDefinition CreateDefinition(string name, List<string> protocols, LocalTarget local) => new()
    {
        Name = name,
        HasGeneratedName = Name is null,
        Protocols = protocols,
        Local = local,
        Subdomain = Subdomain,
        Hostname = Hostname,
        HttpAuth = Credential is null ? null : $"{Credential.UserName}:{Credential.GetNetworkCredential().Password}",
        RemotePort = RemotePort,
        HostHeader = HostHeader,
        AllowIP = AllowIP,
        DenyIP = DenyIP,
        Capture = new CaptureOptions { Enabled = !NoInspect, Capacity = InspectLimit, BodyLimit = InspectBodyLimit, MaxBytes = InspectMemoryLimit },
    };

    /// <summary>
    /// Starts one client whose tunnel names are already reserved, waits until its tunnels are online, makes their
    /// captures visible to the *-TunnelRequest cmdlets, and writes one Tunnel per public URL. On failure or Ctrl+C the
    /// names are released and nothing is left running.
    /// </summary>
    private void OpenAndWrite(TunnelClientOptions options, EngineLogRoute log, IReadOnlyList<string> names, string errorTarget, string verbose)
    {
        if (NoInlineCompletions)
        {
            options = options with { InlineSocketCompletions = false };
        }

        var client = new TunnelClient(options);
        IReadOnlyList<TunnelEndpoint> endpoints;
        InspectorStart inspector = BeginInspector(); // inspector: the session's one, ended below either way
        log.Attach(Bridge, EngineLogRoute.MinimumLevelFor(this));
        try
        {
            WriteVerbose(verbose);
            endpoints = RunAndDrain(async ct =>
            {
                IReadOnlyList<TunnelEndpoint> opened = await client.StartAsync(ct).ConfigureAwait(false);
                if (ct.IsCancellationRequested)
                {
                    // Ctrl+C arrived as the tunnel opened: do not leave it running unseen.
                    await client.StopAsync().ConfigureAwait(false);
                    ct.ThrowIfCancellationRequested();
                }

                return opened;
            });
        }
        catch (PipelineStoppedException)
        {
            SessionRegistry.ReleaseNames(names);
            InspectorHost.End(inspector, null);

            _ = client.StopAsync().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            throw;
        }
        catch (Exception ex)
        {
            SessionRegistry.ReleaseNames(names);
            InspectorHost.End(inspector, null);

            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, StartErrorId(ex), errorTarget));
            return;
        }
        finally
        {
            log.Detach(Bridge);
        }

        CaptureRegistry.Register(client, endpoints);
        InspectorHost.End(inspector, client);
        IReadOnlyList<Tunnel> tunnels = SessionRegistry.AddClient(client, endpoints, options.Server.ToString(), log, names);
        TunnelStatusEvents.Watch(tunnels, Events);
        if (Wait)
        {
            WaitWithStatus(tunnels, log);
            return;
        }

        WriteObject(tunnels, enumerateCollection: true);
    }

    /// <summary>
    /// -Wait: shows the live status until Ctrl+C (which stops the tunnels before the prompt returns) or until the
    /// tunnels end on their own; then writes them, with an error for each one that failed.
    /// </summary>
    private void WaitWithStatus(IReadOnlyList<Tunnel> tunnels, EngineLogRoute log)
    {
        bool screen = TunnelStatusDisplay.CanDrawScreen(Host);
        if (!screen)
        {
            // Plain lines: the client's warnings (a lost server, ...) go to the warning stream between them. On the
            // screen they would tear the frame; the screen shows the status and error instead.
            log.Attach(Bridge, EngineLogRoute.MinimumLevelFor(this));
        }

        try
        {
            RunAndDrain(TunnelStatusDisplay.CreateWork(this, Bridge, tunnels, stopOnCancel: true, "(Ctrl+C to stop the tunnels)"));
        }
        finally
        {
            log.Detach(Bridge);
        }

        foreach (Tunnel tunnel in tunnels.Where(t => t.Status == TunnelStatus.Failed))
        {
            var reason = new InvalidOperationException($"The tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) failed: {tunnel.Error}");
            WriteError(new ErrorRecord(reason, ErrorIds.TunnelFailed, ErrorCategory.ConnectionError, tunnel));
        }

        WriteObject(tunnels, enumerateCollection: true);
    }

    private string ReserveName(LocalTarget local)
    {
        if (Name is { Length: 1 })
        {
            string requested = Name[0];
            return SessionRegistry.ReserveName(requested, exact: true) ?? ThrowNameInUse(requested);
        }

        string baseName = TunnelNames.DefaultFor(ParameterSetName == TcpSet ? "tcp" : "http", local);
        return SessionRegistry.ReserveName(baseName, exact: false)!;
    }

    private string ThrowNameInUse(string name)
    {
        var error = new InvalidOperationException(
            $"A tunnel named '{name}' is already running in this session. Choose another -Name, or stop it first: Stop-Tunnel -Name '{name}'.");
        ThrowTerminatingError(new ErrorRecord(error, ErrorIds.TunnelNameInUse, ErrorCategory.ResourceExists, name));
        return name;
    }

    /// <summary>Checks each -AllowIP/-DenyIP entry; the first bad one is a terminating InvalidArgument error on that entry.</summary>
    private void ValidateIPRules(string[]? entries, string parameter)
    {
        foreach (string entry in entries ?? [])
        {
            Parse(() => IPAccessList.Parse([entry], null, "-" + parameter), entry);
        }
    }

    /// <summary>Runs an engine parser; its configuration error becomes a terminating InvalidArgument error on <paramref name="target"/>.</summary>
    private T Parse<T>(Func<T> parse, string target)
    {
        try
        {
            return parse();
        }
        catch (TunnelException ex)
        {
            ThrowInvalidArgument(ex.Message, target);
            return default!;
        }
    }

    private void ThrowInvalidArgument(string message, string target) =>
        ThrowTerminatingError(new ErrorRecord(new PSArgumentException(message), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target));
}
