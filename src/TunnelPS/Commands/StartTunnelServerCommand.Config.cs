using System.Management.Automation;
using TunnelPS.Configuration;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Errors;

namespace TunnelPS.Commands;

/// <summary>
/// Start-TunnelServer's settings beyond the plain parameters: the config file (-ConfigPath), whose settings fill every
/// parameter not given on the command line, so the command line always wins (problems are the terminating
/// ConfigurationInvalid error whose message is the loader's <c>file:line:column: …</c> text); the port range, the
/// secrets and the cluster options read from the parameters so filled.
/// </summary>
public sealed partial class StartTunnelServerCommand
{
    /// <summary>A server config file (YAML): the server's settings and its cluster section; parameters given override it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>The loaded -ConfigPath file, or null.</summary>
    private ServerConfig? _config;

    /// <summary>Loads -ConfigPath and copies each value it sets into the parameter of the same meaning unless that parameter was given.</summary>
    private void ApplyConfigFile()
    {
        if (ConfigPath is null)
        {
            return;
        }

        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(ConfigPath);
        try
        {
            _config = ServerConfigLoader.Load(path);
        }
        catch (ConfigurationException ex)
        {
            ThrowTerminatingError(AgentConfigFile.ToErrorRecord(ex, path));
            return;
        }

        ServerConfig c = _config;
        Domain = Pick(nameof(Domain), Domain, c.Domain)!;
        Port = Pick(nameof(Port), Port, c.Port);
        HttpPort = Pick(nameof(HttpPort), HttpPort, c.HttpPort);
        BindAddress = Pick(nameof(BindAddress), BindAddress, c.BindAddress);
        AllowAnonymous = Pick(nameof(AllowAnonymous), AllowAnonymous.IsPresent, c.AllowAnonymous);
        NoInlineCompletions = Pick(nameof(NoInlineCompletions), NoInlineCompletions.IsPresent, c.InlineCompletions is bool inline ? !inline : null);
        AuthTokenFile = Pick(nameof(AuthTokenFile), AuthTokenFile, c.AuthTokenFile);
        AuthTokenSecret = Pick(nameof(AuthTokenSecret), AuthTokenSecret, c.AuthTokenSecrets?.ToArray());
        AllowedHostname = Pick(nameof(AllowedHostname), AllowedHostname, c.AllowedHostnames?.ToArray());
        DenyIP = Pick(nameof(DenyIP), DenyIP, c.DenyIP?.ToArray());
        TcpPortRange = Pick(nameof(TcpPortRange), TcpPortRange, c.TcpPortRange is { } r ? FormattableString.Invariant($"{r.First}-{r.Last}") : null);
        LogPath = Pick(nameof(LogPath), LogPath, c.LogPath);
        MaxConnections = Pick(nameof(MaxConnections), MaxConnections, c.MaxConnections);
        MaxConnectionsPerIP = Pick(nameof(MaxConnectionsPerIP), MaxConnectionsPerIP, c.MaxConnectionsPerIP);
        MaxConcurrentHandshakes = Pick(nameof(MaxConcurrentHandshakes), MaxConcurrentHandshakes, c.MaxConcurrentHandshakes);
        MaxSessions = Pick(nameof(MaxSessions), MaxSessions, c.MaxSessions);
        MaxSessionsPerToken = Pick(nameof(MaxSessionsPerToken), MaxSessionsPerToken, c.MaxSessionsPerToken);
        MaxTunnelsPerSession = Pick(nameof(MaxTunnelsPerSession), MaxTunnelsPerSession, c.MaxTunnelsPerSession);
        MaxTcpPortsPerToken = Pick(nameof(MaxTcpPortsPerToken), MaxTcpPortsPerToken, c.MaxTcpPortsPerToken);
        MaxConnectionsPerTunnel = Pick(nameof(MaxConnectionsPerTunnel), MaxConnectionsPerTunnel, c.MaxConnectionsPerTunnel);
        RequestHeadTimeout = Pick(nameof(RequestHeadTimeout), RequestHeadTimeout, c.RequestHeadTimeout);
        VisitorWriteTimeout = Pick(nameof(VisitorWriteTimeout), VisitorWriteTimeout, c.VisitorWriteTimeout);
        IdleTimeout = Pick(nameof(IdleTimeout), IdleTimeout, c.IdleTimeout);
        ClientHelloTimeout = Pick(nameof(ClientHelloTimeout), ClientHelloTimeout, c.ClientHelloTimeout);
        if (ParameterSetName == SelfSignedSet && c.CertificatePath is not null)
        {
            CertificatePath = c.CertificatePath;
        }

        if (c.Cluster is { } cluster)
        {
            ApplyClusterSection(cluster);
        }
    }

    /// <summary>The file's cluster section fills the cluster parameters not given; the secret only when neither secret parameter is.</summary>
    private void ApplyClusterSection(ServerClusterConfig cluster)
    {
        Cluster = Pick(nameof(Cluster), Cluster, cluster.Redis);
        NodeName = Pick(nameof(NodeName), NodeName, cluster.NodeName);
        NodeAddress = Pick(nameof(NodeAddress), NodeAddress, cluster.NodeAddress);
        ClusterCaFile = Pick(nameof(ClusterCaFile), ClusterCaFile, cluster.RedisCaFile);
        ClusterPasswordName = Pick(nameof(ClusterPasswordName), ClusterPasswordName, cluster.RedisPasswordName);
        if (!IsBound(nameof(ClusterSecret)) && !IsBound(nameof(ClusterSecretName)))
        {
            ClusterSecret = cluster.Secret;
            ClusterSecretName = cluster.SecretName;
        }
    }

    private bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

    private T? Pick<T>(string parameter, T? current, T? fromFile) where T : class =>
        IsBound(parameter) || fromFile is null ? current : fromFile;

    private T Pick<T>(string parameter, T current, T? fromFile) where T : struct =>
        IsBound(parameter) || fromFile is null ? current : fromFile.Value;

    /// <summary>
    /// The error for a cluster value that came from the file (at its line and column) or from a parameter.
    /// </summary>
    private void ThrowClusterInvalid(string parameter, string fileKey, string message, object target)
    {
        if (!IsBound(parameter) && _config?.Cluster is not null && _config.Positions.ContainsKey(fileKey))
        {
            ConfigurationException error = _config.Invalid(fileKey, message, "Fix the value in the server config file.");
            ThrowTerminatingError(AgentConfigFile.ToErrorRecord(error, _config.SourcePath));
        }

        ThrowInvalid(message, target);
    }

    private (int First, int Last) ParsePortRange(string text)
    {
        if (ServerConfigLoader.TryParsePortRange(text, out var range))
        {
            return range;
        }

        var error = new ArgumentException(
            $"-TcpPortRange '{text}' is not a port range. Give two ports from 1 to 65535 as first-last, for example 10000-10999.",
            nameof(TcpPortRange));
        ThrowTerminatingError(new ErrorRecord(error, ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, text));
        return default;
    }

    /// <summary>The cluster options from -Cluster and its companions; null without -Cluster (and then none of them may be given).</summary>
    private ClusterOptions? ReadClusterOptions()
    {
        if (Cluster is null)
        {
            string? stray = new[] { nameof(ClusterSecret), nameof(ClusterSecretName), nameof(ClusterCaFile), nameof(ClusterPasswordName), nameof(NodeName), nameof(NodeAddress) }
                .FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (stray is not null)
            {
                ThrowInvalid($"-{stray} configures a cluster node, but -Cluster is not given. Add -Cluster redis://host:port, or leave -{stray} out.", stray);
            }

            return null;
        }

        var parameters = new ClusterParameters
        {
            Redis = Cluster,
            Secret = ClusterSecret,
            SecretName = ClusterSecretName,
            CaFile = ClusterCaFile is null ? null : GetUnresolvedProviderPathFromPSPath(ClusterCaFile),
            PasswordName = ClusterPasswordName,
            NodeName = NodeName,
            NodeAddress = NodeAddress,
        };
        try
        {
            return parameters.ToOptions(name => SecretResolver.GetSecret(this, name, vault: null));
        }
        catch (SecretResolutionException ex)
        {
            ThrowTerminatingError(ex.ErrorRecord);
        }
        catch (ClusterParameterException ex) when (ex.Parameter is not null && ex.FileKey is not null)
        {
            ThrowClusterInvalid(ex.Parameter, ex.FileKey, ex.Message, ex.Target);
        }
        catch (ClusterParameterException ex)
        {
            ThrowInvalid(ex.Message, ex.Target);
        }

        return null;
    }

    // config: the tokens named by -AuthTokenSecret, read with Get-Secret on the pipeline thread.
    private List<string> ReadSecretTokens()
    {
        var tokens = new List<string>();
        foreach (string name in AuthTokenSecret ?? [])
        {
            try
            {
                tokens.Add(SecretResolver.GetSecret(this, name, vault: null));
            }
            catch (SecretResolutionException ex)
            {
                ThrowTerminatingError(ex.ErrorRecord);
            }
        }

        return tokens;
    }
}
