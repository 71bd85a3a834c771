using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Configuration;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;
using TunnelPS.Errors;
using TunnelPS.Hosting;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// Start-Tunnel's named tunnels from the agent config file (-Name blog,api or -All): every selected tunnel is
/// opened by ONE client over one control connection, and one <see cref="Tunnel"/> is written per public URL.
/// Server, token, proxy and trust come from the parameters, else the file, else this session's server (see
/// <see cref="TunnelConfigResolver"/>).
/// </summary>
public sealed partial class StartTunnelCommand
{
    /// <summary>Named tunnels from the config file (-Name).</summary>
    public const string ConfigSet = "Config";

    /// <summary>Every tunnel of the config file (-All).</summary>
    public const string ConfigAllSet = "ConfigAll";

    /// <summary>Open every tunnel defined in the config file.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ConfigAllSet)]
    public SwitchParameter All { get; set; }

    /// <summary>The config file; default $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml.</summary>
    [Parameter(ParameterSetName = ConfigSet)]
    [Parameter(ParameterSetName = ConfigAllSet)]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>The SecretManagement secret that holds the auth token (read with Get-Secret, default vault).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AuthTokenSecret { get; set; }

    private bool IsConfigSet => ParameterSetName is ConfigSet or ConfigAllSet;

    /// <summary>Opens the named tunnels of the config file with one client.</summary>
    private void StartFromConfig()
    {
        string path = AgentConfigFile.ResolvePath(this, ConfigPath);
        AgentConfig config = AgentConfigFile.Load(this, path, required: true);
        _inspectConfig = config; // inspector: its inspect_addr (StartTunnelCommand.Inspector.cs)
        var resolver = new TunnelConfigResolver(config, ReadSecret);
        TunnelClientOptions resolved;
        try
        {
            resolved = resolver.Resolve(Name, All, CurrentOverrides(), FindSessionServer, AllowIP, DenyIP);
        }
        catch (SecretResolutionException ex)
        {
            ThrowTerminatingError(ex.ErrorRecord);
            return;
        }
        catch (TunnelException ex)
        {
            ThrowTerminatingError(AgentConfigFile.ToErrorRecord(ex, path));
            return;
        }

        // One confirmation per named tunnel: the ones declined (all of them under -WhatIf) are not opened.
        List<TunnelDefinition> confirmed = resolved.Tunnels
            .Where(t => ShouldProcess($"'{t.Name}': {t.Local} ({string.Join(", ", t.Protocols)}) on {resolved.Server}", "Open tunnel"))
            .ToList();
        if (confirmed.Count == 0)
        {
            return;
        }

        resolved = resolved with { Tunnels = confirmed };
        List<string> reserved = [];
        foreach (string tunnelName in resolved.Tunnels.Select(t => t.Name).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (SessionRegistry.ReserveName(tunnelName, exact: true) is null)
            {
                SessionRegistry.ReleaseNames(reserved);
                ThrowNameInUse(tunnelName);
            }

            reserved.Add(tunnelName);
        }

        var log = new EngineLogRoute();
        TunnelClientOptions options = resolved.WithLogCallback(log.Write, log.IsEnabled);
        string proxy = options.Proxy is null ? string.Empty : " through the proxy " + options.Proxy.DisplayAddress;
        OpenAndWrite(options, log, reserved, string.Join(",", reserved), $"Opening {string.Join(", ", reserved)} from {path} on {options.Server}{proxy}.");
    }

    /// <summary>
    /// The proxy of an -Http/-Tcp tunnel: -Proxy, else <c>http_proxy</c> of the config file when it exists, else
    /// the environment (NO_PROXY honoured). An unreadable config file is reported as a warning and skipped.
    /// </summary>
    private AgentConfig? _adHocConfig;

    /// <summary>
    /// The default config file ($env:TUNNELPS_CONFIG or ~/.tunnelps/tunnelps.yml) for -Http/-Tcp tunnels, which
    /// take their proxy, and when no server is named or running, server_addr, token and trust from it. An unreadable
    /// file is a warning: an ad-hoc tunnel does not depend on it.
    /// </summary>
    private AgentConfig AdHocConfig()
    {
        if (_adHocConfig is null)
        {
            _adHocConfig = AgentConfig.Empty;
            try
            {
                _adHocConfig = AgentConfigLoader.LoadIfExists(AgentConfigLoader.DefaultPath());
            }
            catch (ConfigurationException ex)
            {
                WriteWarning($"Ignoring the config file: {ex.Message}");
            }
        }

        return _adHocConfig;
    }

    /// <summary>
    /// The server of an -Http/-Tcp tunnel (see <see cref="TunnelConfigResolver.ResolveAdHocServer"/>); a bad address is
    /// an InvalidArgument error, no server at all is ServerNotSpecified.
    /// </summary>
    private ResolvedServer ResolveAdHocServer(TunnelConfigResolver resolver)
    {
        ResolvedServer? server = null;
        try
        {
            server = resolver.ResolveAdHocServer(CurrentOverrides(), FindSessionServer);
        }
        catch (TunnelException ex)
        {
            ThrowInvalidArgument(ex.Message, ServerAddressList ?? AdHocConfig().SourcePath ?? "config");
        }

        if (server is null)
        {
            var error = new PSArgumentException(
                "No tunnel server to connect to: give one with -ServerAddress host:port (and -AuthToken if it needs one), set server_addr in the config file, "
                + "or start one in this session first with Start-TunnelServer.",
                nameof(ServerAddress));
            ThrowTerminatingError(new ErrorRecord(error, ErrorIds.ServerNotSpecified, ErrorCategory.InvalidArgument, null));
        }

        return server!;
    }

    /// <summary>The ErrorId of a failed start: a refused proxy login is named as such, anything else is TunnelStartFailed.</summary>
    private static string StartErrorId(Exception ex) => ex is TunnelException { Kind: TunnelErrorKind.ProxyAuthentication }
        ? ErrorIds.ProxyAuthenticationRequired
        : ErrorIds.TunnelStartFailed;

    private ProxySettings? ResolveAdHocProxy(TunnelConfigResolver resolver)
    {
        try
        {
            return resolver.ResolveProxy(CurrentOverrides());
        }
        catch (TunnelException ex)
        {
            ThrowInvalidArgument(ex.Message, Proxy ?? AdHocConfig().SourcePath ?? AgentConfigLoader.DefaultPath());
            return null;
        }
    }

    /// <summary>The token of an -Http/-Tcp tunnel for <paramref name="server"/>; empty when nothing gives one.</summary>
    private string ResolveAdHocAuthToken(TunnelConfigResolver resolver, ResolvedServer server)
    {
        try
        {
            return resolver.ResolveAuthToken(CurrentOverrides(), server);
        }
        catch (SecretResolutionException ex)
        {
            ThrowTerminatingError(ex.ErrorRecord);
            return string.Empty;
        }
    }

    private TunnelConnectionOverrides CurrentOverrides() => new()
    {
        ServerAddress = ServerAddressList,
        AuthToken = AuthToken,
        AuthTokenSecret = AuthTokenSecret,
        Proxy = Proxy,
        ProxyCredential = ProxyCredential?.GetNetworkCredential(),
        ServerCertificateThumbprint = ServerCertificateThumbprint,
        SkipCertificateCheck = SkipCertificateCheck,
    };

    private string ReadSecret(string name, string? vault) => SecretResolver.GetSecret(this, name, vault);

    /// <summary>The session server the last <see cref="FindSessionServer"/> found (its HTTP port decides the default schemes).</summary>
    private TunnelServer? _sessionServer;

    /// <summary>The running server of this session at <paramref name="address"/> (the newest one for null), or null.</summary>
    private SessionServerDefaults? FindSessionServer(ServerAddress? address)
    {
        TunnelServer? server = address is null ? SessionRegistry.DefaultServer : SessionRegistry.FindLocalServer(address);
        _sessionServer = server;
        if (server is null)
        {
            return null;
        }

        return new SessionServerDefaults(
            address ?? new ServerAddress("localhost", server.Port),
            server.CertificateThumbprint,
            server.AuthTokens.FirstOrDefault());
    }
}
