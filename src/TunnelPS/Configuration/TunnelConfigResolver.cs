using System.Management.Automation;
using System.Net;
using EngineTunnelConfig = TunnelPS.Engine.Configuration.TunnelConfig;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Configuration;

/// <summary>
/// Turns the agent config file plus Start-Tunnel's parameters into the options of ONE tunnel client that opens
/// every selected tunnel over one control connection.
/// </summary>
/// <remarks>
/// Precedence, highest first; named tunnels (-Name, -All) and -Http/-Tcp tunnels share every rule but the first.
/// Server: named tunnels: -ServerAddress, <c>server_addr</c>, a server of this session; an -Http/-Tcp tunnel:
/// -ServerAddress, a server of this session, <c>server_addr</c> (an ad-hoc tunnel goes to the server the user just
/// started). The file's token and trust keys apply to named tunnels, and to an -Http/-Tcp tunnel only when its server
/// is the file's <c>server_addr</c> (see <see cref="ResolvedServer.FileApplies"/>).
/// Token: -AuthToken, -AuthTokenSecret (Get-Secret), <c>authtoken_secret</c> (+<c>authtoken_vault</c>),
/// <c>authtoken</c>/<c>auth_token</c>, the session server's first token. Proxy (the file's <c>http_proxy</c> applies
/// to every tunnel): -Proxy (+-ProxyCredential), <c>http_proxy</c> (-ProxyCredential replaces its user info), the
/// environment (HTTPS_PROXY … ALL_PROXY, with NO_PROXY). Trust: -ServerCertificateThumbprint,
/// <c>server_certificate_thumbprint</c>, system roots when <c>trust_host_root_certs: true</c>, else the session
/// server's certificate; -SkipCertificateCheck accepts any certificate, and so does <c>skip_certificate_check: true</c>
/// unless -ServerCertificateThumbprint pins one (the parameter wins over the file). IP rules: -AllowIP replaces every
/// selected tunnel's <c>allow_ip</c>, -DenyIP its <c>deny_ip</c>; a list the parameters do not give stays as the file
/// has it. Errors are <see cref="ConfigurationException"/> (file, line, column when the problem is at a place in the
/// file) or <see cref="ProxyConfigurationException"/>.
/// </remarks>
internal sealed class TunnelConfigResolver
{
    private readonly AgentConfig _config;
    private readonly Func<string, string?, string> _readSecret;
    private readonly Func<string, string?> _getEnvironment;

    /// <param name="config">The loaded file (<see cref="AgentConfig.SourcePath"/> names it in errors).</param>
    /// <param name="readSecret">Reads a secret by name and vault (SecretResolver.GetSecret on the pipeline thread).</param>
    /// <param name="getEnvironment">Reads an environment variable; the process environment by default.</param>
    internal TunnelConfigResolver(AgentConfig config, Func<string, string?, string> readSecret, Func<string, string?>? getEnvironment = null)
    {
        _config = config ?? throw new ArgumentNullException(nameof(config));
        _readSecret = readSecret ?? throw new ArgumentNullException(nameof(readSecret));
        _getEnvironment = getEnvironment ?? Environment.GetEnvironmentVariable;
    }

    private string Source => _config.SourcePath ?? "(no config file)";

    /// <summary>
    /// The tunnels named by <paramref name="names"/> (wildcards allowed, case-insensitive), or all of them with
    /// <paramref name="all"/>, in file order, each once.
    /// </summary>
    /// <exception cref="ConfigurationException">A name (without wildcards) or a pattern matches no tunnel, or the file has none.</exception>
    internal IReadOnlyList<EngineTunnelConfig> SelectTunnels(IReadOnlyList<string>? names, bool all)
    {
        if (_config.Tunnels.Count == 0)
        {
            throw new ConfigurationException(
                $"The TunnelPS config file '{Source}' defines no tunnels. Add them under 'tunnels:' (for example  tunnels: {{ web: {{ proto: {{ http: 3000 }} }} }}), or point -ConfigPath or $env:TUNNELPS_CONFIG at the file that has them.");
        }

        if (all)
        {
            return _config.Tunnels;
        }

        var selected = new List<EngineTunnelConfig>();
        var unknown = new List<string>();
        foreach (string name in names ?? [])
        {
            var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
            var matches = _config.Tunnels.Where(t => pattern.IsMatch(t.Name)).ToList();
            if (matches.Count == 0)
            {
                unknown.Add(name);
            }

            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }

        if (unknown.Count > 0)
        {
            // Positioned at the first tunnel: the place in the file where the names are defined.
            string defined = string.Join(", ", _config.Tunnels.Select(t => t.Name));
            EngineTunnelConfig first = _config.Tunnels[0];
            throw new ConfigurationException(
                Source,
                first.Line,
                first.Column,
                $"No tunnel named {string.Join(", ", unknown.Select(NameWithSuggestion))} is defined in this file; its tunnels are: {defined}",
                "Use one of those names (Get-TunnelConfig lists them), or add the tunnel under 'tunnels:'.");
        }

        return _config.Tunnels.Where(selected.Contains).ToList();
    }

    /// <summary>'blgo' (did you mean 'blog'?), as the config file's own typos are told; a pattern gets no guess.</summary>
    private string NameWithSuggestion(string name) =>
        !WildcardPattern.ContainsWildcardCharacters(name) && AgentConfigLoader.SuggestName(name, _config.Tunnels.Select(t => t.Name)) is { } suggestion
            ? $"'{name}' (did you mean '{suggestion}'?)"
            : $"'{name}'";

    /// <summary>
    /// The engine definitions of config tunnels: http and https entries that forward to the same local address
    /// become one definition with both protocols; entries to different addresses and every tcp entry become
    /// definitions of their own, all with the tunnel's name.
    /// </summary>
    internal static IReadOnlyList<TunnelDefinition> ToDefinitions(IEnumerable<EngineTunnelConfig> tunnels)
    {
        ArgumentNullException.ThrowIfNull(tunnels);
        var definitions = new List<TunnelDefinition>();
        foreach (EngineTunnelConfig tunnel in tunnels)
        {
            var capture = new CaptureOptions
            {
                Enabled = tunnel.Inspect,
                Capacity = tunnel.InspectLimit,
                BodyLimit = (int)Math.Min(tunnel.InspectBodyLimit, int.MaxValue),
                MaxBytes = tunnel.InspectMemoryLimit,
            };

            foreach (TunnelProtocolBinding tcp in tunnel.Protos.Where(p => p.Protocol == "tcp"))
            {
                definitions.Add(new TunnelDefinition
                {
                    Name = tunnel.Name,
                    Protocols = ["tcp"],
                    Local = new LocalTarget(tcp.Host, tcp.Port),
                    RemotePort = tunnel.RemotePort ?? 0,
                    AllowIP = Rules(tunnel.AllowIP),
                    DenyIP = Rules(tunnel.DenyIP),
                    Capture = capture with { Enabled = false },
                });
            }

            var httpGroups = tunnel.Protos
                .Where(p => p.Protocol is "http" or "https")
                .GroupBy(p => (Host: p.Host.ToLowerInvariant(), p.Port, p.Scheme));
            foreach (var group in httpGroups)
            {
                TunnelProtocolBinding first = group.First();
                definitions.Add(new TunnelDefinition
                {
                    Name = tunnel.Name,
                    Protocols = group.Select(p => p.Protocol).Distinct().ToList(),
                    Local = new LocalTarget(first.Host, first.Port, UseTls: first.Scheme == "https"),
                    Subdomain = tunnel.Subdomain,
                    Hostname = tunnel.Hostname,
                    HttpAuth = tunnel.Auth,
                    HostHeader = tunnel.HostHeader,
                    AllowIP = Rules(tunnel.AllowIP),
                    DenyIP = Rules(tunnel.DenyIP),
                    Capture = capture,
                });
            }
        }

        return definitions;
    }

    private static IReadOnlyList<string>? Rules(IReadOnlyList<string> entries) => entries.Count == 0 ? null : entries;

    /// <summary>The server: -ServerAddress, else <c>server_addr</c>; null when neither names one.</summary>
    internal ServerAddress? ResolveServerAddress(TunnelConnectionOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        return ResolveServerAddresses(overrides) is { } addresses ? addresses[0] : null;
    }

    /// <summary>Every server -ServerAddress or <c>server_addr</c> names (several nodes of a cluster, comma-separated); null when neither names one.</summary>
    internal IReadOnlyList<ServerAddress>? ResolveServerAddresses(TunnelConnectionOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        if (!string.IsNullOrWhiteSpace(overrides.ServerAddress))
        {
            return ServerAddress.ParseList(overrides.ServerAddress);
        }

        if (!string.IsNullOrWhiteSpace(_config.ServerAddr))
        {
            try
            {
                return ServerAddress.ParseList(_config.ServerAddr);
            }
            catch (TunnelPS.Engine.TunnelConfigurationException ex)
            {
                throw new ConfigurationException($"{Source}: server_addr: {ex.Message}");
            }
        }

        return null;
    }

    /// <summary>The auth token by the precedence in the remarks, the file's keys included; null when nothing gives one.</summary>
    internal string? ResolveAuthToken(TunnelConnectionOverrides overrides) => ResolveAuthToken(overrides, fileApplies: true);

    /// <summary>The auth token for <paramref name="server"/> by the precedence in the remarks; empty when nothing gives one.</summary>
    internal string ResolveAuthToken(TunnelConnectionOverrides overrides, ResolvedServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return ResolveAuthToken(overrides, server.FileApplies) ?? server.Session?.AuthToken ?? string.Empty;
    }

    private string? ResolveAuthToken(TunnelConnectionOverrides overrides, bool fileApplies)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        if (!string.IsNullOrEmpty(overrides.AuthToken))
        {
            return overrides.AuthToken;
        }

        if (!string.IsNullOrEmpty(overrides.AuthTokenSecret))
        {
            return _readSecret(overrides.AuthTokenSecret, null);
        }

        if (!fileApplies)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(_config.AuthTokenSecret))
        {
            return _readSecret(_config.AuthTokenSecret, _config.AuthTokenVault);
        }

        return string.IsNullOrEmpty(_config.AuthToken) ? null : _config.AuthToken;
    }

    /// <summary>The proxy by the precedence in the remarks; null dials directly.</summary>
    internal ProxySettings? ResolveProxy(TunnelConnectionOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        if (!string.IsNullOrWhiteSpace(overrides.Proxy))
        {
            return ProxySettings.Parse(overrides.Proxy, overrides.ProxyCredential) with { Source = "-Proxy" };
        }

        if (!string.IsNullOrWhiteSpace(_config.HttpProxy))
        {
            try
            {
                return ProxySettings.Parse(_config.HttpProxy, overrides.ProxyCredential) with { Source = $"http_proxy in {Source}" };
            }
            catch (ProxyConfigurationException ex)
            {
                throw new ConfigurationException($"{Source}: http_proxy: {ex.Message}", ex);
            }
        }

        ProxySettings? fromEnvironment = ProxySettings.FromEnvironment(_getEnvironment);
        return fromEnvironment is not null && overrides.ProxyCredential is not null
            ? fromEnvironment with { Credential = overrides.ProxyCredential }
            : fromEnvironment;
    }

    /// <summary>How the server certificate is checked, by the precedence in the remarks, the file's keys included.</summary>
    internal ServerTrust ResolveTrust(TunnelConnectionOverrides overrides, SessionServerDefaults? session) =>
        ResolveTrust(overrides, session, fileApplies: true);

    /// <summary>How the certificate of <paramref name="server"/> is checked, by the precedence in the remarks.</summary>
    internal ServerTrust ResolveTrust(TunnelConnectionOverrides overrides, ResolvedServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return ResolveTrust(overrides, server.Session, server.FileApplies);
    }

    private ServerTrust ResolveTrust(TunnelConnectionOverrides overrides, SessionServerDefaults? session, bool fileApplies)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        bool pinGiven = !string.IsNullOrWhiteSpace(overrides.ServerCertificateThumbprint);
        bool skip = overrides.SkipCertificateCheck || (fileApplies && !pinGiven && _config.SkipCertificateCheck == true);
        string? pin = pinGiven
            ? CertificatePin.Normalize(overrides.ServerCertificateThumbprint!, "-ServerCertificateThumbprint")
            : fileApplies ? _config.ServerCertificateThumbprint : null;
        if (pin is null && !(fileApplies && _config.TrustHostRootCerts == true) && !skip)
        {
            pin = session?.CertificateThumbprint;
        }

        return new ServerTrust { PinnedThumbprint = pin, SkipCertificateCheck = skip };
    }

    /// <summary>
    /// The server of named tunnels: -ServerAddress, else <c>server_addr</c>, else the session server
    /// <paramref name="findSessionServer"/> returns for no address. <paramref name="findSessionServer"/> gets the
    /// address named (null when none) and returns the session server there, or null.
    /// </summary>
    /// <exception cref="ConfigurationException">No server is named and none runs in this session; or a bad server_addr.</exception>
    internal ResolvedServer ResolveServer(TunnelConnectionOverrides overrides, Func<ServerAddress?, SessionServerDefaults?> findSessionServer)
    {
        ArgumentNullException.ThrowIfNull(findSessionServer);
        IReadOnlyList<ServerAddress>? nodes = ResolveServerAddresses(overrides);
        SessionServerDefaults? session = findSessionServer(nodes?[0]);
        ServerAddress server = nodes?[0] ?? session?.Address ?? throw new ConfigurationException(
            $"No tunnel server to connect to: set server_addr in '{Source}', give -ServerAddress host:port, or start one in this session with Start-TunnelServer.");
        return new ResolvedServer(nodes ?? [server], session, FileApplies: true);
    }

    /// <summary>
    /// The server of an -Http/-Tcp tunnel: -ServerAddress, else this session's server, else <c>server_addr</c>; null
    /// when none of them gives one. <paramref name="findSessionServer"/> is called as for <see cref="ResolveServer"/>.
    /// </summary>
    /// <exception cref="TunnelPS.Engine.TunnelConfigurationException">A bad -ServerAddress.</exception>
    /// <exception cref="ConfigurationException">A bad server_addr.</exception>
    internal ResolvedServer? ResolveAdHocServer(TunnelConnectionOverrides overrides, Func<ServerAddress?, SessionServerDefaults?> findSessionServer)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(findSessionServer);
        if (!string.IsNullOrWhiteSpace(overrides.ServerAddress))
        {
            IReadOnlyList<ServerAddress> named = ServerAddress.ParseList(overrides.ServerAddress);
            return new ResolvedServer(named, findSessionServer(named[0]), FileApplies: false);
        }

        if (findSessionServer(null) is { } session)
        {
            return new ResolvedServer([session.Address], session, FileApplies: false);
        }

        return ResolveServerAddresses(overrides) is { } configured ? new ResolvedServer(configured, null, FileApplies: true) : null;
    }

    /// <summary>
    /// The public schemes of an -Http tunnel: -Scheme (lower case, each once), else https alone for a server of this
    /// session without a plain HTTP port (<paramref name="httpsOnly"/>), else http and https.
    /// </summary>
    internal static List<string> ResolveSchemes(IReadOnlyList<string>? scheme, bool httpsOnly)
    {
        if (scheme is { Count: > 0 })
        {
            return scheme.Select(s => s.ToLowerInvariant()).Distinct().ToList();
        }

        return httpsOnly ? ["https"] : ["http", "https"];
    }

    /// <summary>
    /// The options of one client that opens every selected tunnel. <paramref name="findSessionServer"/> gets the
    /// server address named by the parameters or file (null when none) and returns the session server to fall
    /// back on or to trust by its certificate, or null.
    /// </summary>
    /// <param name="allowIP">-AllowIP: replaces the allow_ip of every selected tunnel; null keeps the file's.</param>
    /// <param name="denyIP">-DenyIP: replaces the deny_ip of every selected tunnel; null keeps the file's.</param>
    /// <exception cref="ConfigurationException">No server is named and none runs in this session; or a bad name or value.</exception>
    internal TunnelClientOptions Resolve(
        IReadOnlyList<string>? names,
        bool all,
        TunnelConnectionOverrides overrides,
        Func<ServerAddress?, SessionServerDefaults?> findSessionServer,
        IReadOnlyList<string>? allowIP = null,
        IReadOnlyList<string>? denyIP = null)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(findSessionServer);
        IReadOnlyList<TunnelDefinition> definitions = ToDefinitions(SelectTunnels(names, all))
            .Select(d => d with { AllowIP = allowIP ?? d.AllowIP, DenyIP = denyIP ?? d.DenyIP })
            .ToList();
        foreach (TunnelDefinition definition in definitions)
        {
            definition.Validate();
        }

        ResolvedServer server = ResolveServer(overrides, findSessionServer);
        var options = new TunnelClientOptions
        {
            Server = server.Address,
            FallbackServers = server.Fallbacks,
            AuthToken = ResolveAuthToken(overrides, server),
            Trust = ResolveTrust(overrides, server),
            Proxy = ResolveProxy(overrides),
            Tunnels = definitions,
        };

        // inline_completions: the file's choice, else the engine's default (on with up to 4 cores).
        return _config.InlineCompletions is bool inline ? options with { InlineSocketCompletions = inline } : options;
    }
}
