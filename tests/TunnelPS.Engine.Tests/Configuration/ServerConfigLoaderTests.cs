using System.Net;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

public sealed class ServerConfigLoaderTests
{
    private const string Source = "server.yml";
    private static readonly string Base = Path.GetFullPath(Path.Combine(Path.GetTempPath(), "tunnelps-node"));

    private static ServerConfig Parse(string yaml) => ServerConfigLoader.Parse(yaml, Source, Base);

    private static ConfigurationException Fails(string yaml) =>
        Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Parse(yaml, Source, Base));

    [Fact]
    public void Reads_every_setting_with_paths_under_the_file_s_folder()
    {
        var config = Parse("""
            domain: Tunnel.Example.com
            port: 443
            http_port: -1
            bind_address: 127.0.0.1
            allow_anonymous: false
            certificate_path: certs/node.pfx
            auth_token_file: tokens.yml
            auth_token_secrets: [TokenA, TokenB]
            allowed_hostnames: ["*.example.org", app.example.net]
            deny_ip: [203.0.113.0/24, 198.51.100.7]
            tcp_port_range: 10000-10999
            log_path: /var/log/tunnelps.jsonl
            limits:
              max_connections: 5000
              max_connections_per_ip: 50
              max_concurrent_handshakes: 20
              max_sessions: 300
              max_sessions_per_token: 4
              max_tunnels_per_session: 8
              max_tcp_ports_per_token: 2
              max_connections_per_tunnel: 90
              request_head_timeout: 15s
              visitor_write_timeout: 2m
              idle_timeout: 2.5
              client_hello_timeout: 3s
            cluster:
              redis: [redis://10.0.0.5:6379, 10.0.0.6:6379]
              secret_name: TunnelClusterSecret
              node_name: n1
              node_address: n1.internal:443
            """);

        Assert.Equal("tunnel.example.com", config.Domain);
        Assert.Equal((443, -1), (config.Port, config.HttpPort));
        Assert.Equal(IPAddress.Loopback, config.BindAddress);
        Assert.False(config.AllowAnonymous);
        Assert.Equal(Path.Combine(Base, "certs", "node.pfx"), config.CertificatePath);
        Assert.Equal(Path.Combine(Base, "tokens.yml"), config.AuthTokenFile);
        Assert.Equal(["TokenA", "TokenB"], config.AuthTokenSecrets!);
        Assert.Equal(["*.example.org", "app.example.net"], config.AllowedHostnames!);
        Assert.Equal(["203.0.113.0/24", "198.51.100.7"], config.DenyIP!);
        Assert.Equal((10000, 10999), config.TcpPortRange);
        Assert.Equal("/var/log/tunnelps.jsonl", config.LogPath);
        Assert.Equal((5000, 50, 20, 300, 4, 8, 2, 90),
            (config.MaxConnections, config.MaxConnectionsPerIP, config.MaxConcurrentHandshakes, config.MaxSessions, config.MaxSessionsPerToken,
             config.MaxTunnelsPerSession, config.MaxTcpPortsPerToken, config.MaxConnectionsPerTunnel));
        Assert.Equal(TimeSpan.FromSeconds(15), config.RequestHeadTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), config.VisitorWriteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2.5), config.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), config.ClientHelloTimeout);
        var cluster = Assert.IsType<ServerClusterConfig>(config.Cluster);
        Assert.Equal("redis://10.0.0.5:6379,10.0.0.6:6379", cluster.Redis);
        Assert.Null(cluster.Secret);
        Assert.Equal(("TunnelClusterSecret", "n1", "n1.internal:443"), (cluster.SecretName, cluster.NodeName, cluster.NodeAddress));
        Assert.Equal((27, 10), config.Positions["cluster.redis"]);
        Assert.Equal((14, 20), config.Positions["limits.max_connections"]);
    }

    [Fact]
    public void An_empty_file_sets_nothing()
    {
        var config = Parse("");
        Assert.Null(config.Domain);
        Assert.Null(config.Port);
        Assert.Null(config.Cluster);
        Assert.Equal(Source, config.SourcePath);
    }

    [Fact]
    public void A_single_redis_address_and_the_secret_itself_are_read()
    {
        var config = Parse("""
            cluster:
              redis: redis://127.0.0.1:6380
              secret: a-secret-of-twenty-chars
            """);
        Assert.Equal(("redis://127.0.0.1:6380", "a-secret-of-twenty-chars"), (config.Cluster!.Redis, config.Cluster.Secret));
    }

    [Fact]
    public void Invalid_points_a_later_problem_at_the_value()
    {
        var config = Parse("""
            domain: example.com
            cluster:
              redis: "http://nowhere"
              secret: a-secret-of-twenty-chars
            """);
        var error = config.Invalid("cluster.redis", "Not a Redis address", "Give redis://host:port.");
        Assert.Equal("server.yml:3:10: Not a Redis address. Give redis://host:port.", error.Message);
    }

    [Theory]
    [InlineData("domain: not_a domain\n", 1, 9, "'not_a domain' is not a valid domain")]
    [InlineData("port: 70000\n", 1, 7, "'port' is '70000'")]
    [InlineData("http_port: -2\n", 1, 12, "'http_port' is '-2'")]
    [InlineData("bind_address: localhost\n", 1, 15, "'localhost' is not an IP address")]
    [InlineData("allow_anonymous: maybe\n", 1, 18, "'allow_anonymous' is 'maybe'")]
    [InlineData("allowed_hostnames: [ok.example.com, 'bad host']\n", 1, 37, "'bad host' is not a host name or pattern")]
    [InlineData("deny_ip:\n  - 10.0.0.0/8\n  - 10.0.0.300\n", 3, 5, "'10.0.0.300' is not an IP address or CIDR range")]
    [InlineData("tcp_port_range: 2000-1000\n", 1, 17, "'tcp_port_range' is '2000-1000', not a port range")]
    [InlineData("domian: example.com\n", 1, 1, "Unknown top-level key 'domian'. Did you mean 'domain'?")]
    [InlineData("limits: 5\n", 1, 9, "'limits' must be a map")]
    [InlineData("limits:\n  max_sessions: 0\n", 2, 17, "'max_sessions' is '0'")]
    [InlineData("limits:\n  max_sesions: 3\n", 2, 3, "Unknown limit 'max_sesions'. Did you mean 'max_sessions'?")]
    [InlineData("limits:\n  idle_timeout: soon\n", 2, 17, "'idle_timeout' is 'soon', not a duration")]
    [InlineData("limits:\n  request_head_timeout: 0s\n", 2, 25, "'request_head_timeout' is '0s', not a duration")]
    [InlineData("cluster:\n  secret: a-secret-of-twenty-chars\n", 1, 1, "The 'cluster' section has no 'redis'")]
    [InlineData("cluster:\n  redis: redis://h\n  secret: short\n", 3, 11, "'secret' has 5 characters; a cluster secret must have at least 16")]
    [InlineData("cluster:\n  redis: redis://h\n  secret: a-secret-of-twenty-chars\n  secret_name: S\n", 4, 3, "Both 'secret' (line 3) and 'secret_name' are set")]
    [InlineData("cluster:\n  redis: redis://h\n  node_name: 'n 1'\n", 3, 14, "'n 1' is not a node name")]
    [InlineData("cluster:\n  redis: redis://h\n  node_address: n1.internal\n", 3, 17, "'n1.internal' is not host:port")]
    [InlineData("cluster:\n  redis: redis://h\n  nodename: n1\n", 3, 3, "Unknown cluster setting 'nodename'. Did you mean 'node_name'?")]
    [InlineData("cluster:\n  redis: {a: b}\n", 2, 10, "'redis' must be a list")]
    [InlineData("port: 1\nport: 2\n", 2, 1, "Duplicate key 'port'")]
    public void Reports_each_bad_value_at_its_line_and_column(string yaml, int line, int column, string problem)
    {
        var ex = Fails(yaml);
        Assert.Equal(TunnelErrorKind.InvalidConfiguration, ex.Kind);
        Assert.Equal((Source, line, column), (ex.Path, ex.Line, ex.Column));
        Assert.StartsWith($"{Source}:{line}:{column}: {problem}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_NotFound()
    {
        var path = Path.Combine(Path.GetTempPath(), "tunnelps-no-such-" + Guid.NewGuid().ToString("N") + ".yml");
        var ex = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Load(path));
        Assert.Equal(TunnelErrorKind.NotFound, ex.Kind);
        Assert.Contains("server config file", ex.Message, StringComparison.Ordinal);
    }
}
