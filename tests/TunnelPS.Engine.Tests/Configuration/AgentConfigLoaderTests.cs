using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

public sealed class AgentConfigLoaderTests
{
    private const string Source = "tunnelps.yml";

    private static AgentConfig Parse(string yaml) => AgentConfigLoader.Parse(yaml, Source);

    private static ConfigurationException Fails(string yaml) =>
        Assert.Throws<ConfigurationException>(() => AgentConfigLoader.Parse(yaml, Source));

    private static void AssertAt(ConfigurationException ex, int line, int column)
    {
        Assert.Equal(TunnelErrorKind.InvalidConfiguration, ex.Kind);
        Assert.Equal(Source, ex.Path);
        Assert.Equal((line, column), (ex.Line, ex.Column));
        Assert.StartsWith($"{Source}:{line}:{column}: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parses_the_seed_example_to_four_tunnels_in_file_order()
    {
        var config = Parse("""
            authtoken: "..."
            tunnels:
              blog:   { proto: { http: 4000, https: 4000 } }
              api:    { auth: "user:password", proto: { https: 8080 } }
              personal: { hostname: "hacks.example.com", proto: { http: 9090 } }
              ssh:    { proto: { tcp: 22 } }
            """);

        Assert.Equal("...", config.AuthToken);
        Assert.Equal(["blog", "api", "personal", "ssh"], config.Tunnels.Select(t => t.Name));

        var blog = config.Tunnels[0];
        Assert.Equal(["http", "https"], blog.Protos.Select(p => p.Protocol));
        Assert.All(blog.Protos, p => Assert.Equal(("4000", "localhost", 4000, "http"), (p.LocalAddress, p.Host, p.Port, p.Scheme)));
        Assert.Equal("http+https", blog.ProtocolList);
        Assert.Equal((3, 3), (blog.Line, blog.Column));

        var api = config.Tunnels[1];
        Assert.Equal("user:password", api.Auth);
        var apiProto = Assert.Single(api.Protos);
        Assert.Equal(("https", 8080), (apiProto.Protocol, apiProto.Port));

        var personal = config.Tunnels[2];
        Assert.Equal("hacks.example.com", personal.Hostname);
        Assert.Equal(("http", 9090), (Assert.Single(personal.Protos).Protocol, personal.Protos[0].Port));

        var ssh = config.Tunnels[3];
        var sshProto = Assert.Single(ssh.Protos);
        Assert.Equal(("tcp", "localhost", 22, "tcp"), (sshProto.Protocol, sshProto.Host, sshProto.Port, sshProto.Scheme));
        Assert.Null(ssh.RemotePort);
        Assert.Equal((6, 3), (ssh.Line, ssh.Column));
    }

    [Fact]
    public void Parses_an_ngrok_1_client_file_as_it_is()
    {
        var config = Parse("""
            server_addr: ngrokd.example.com:4443
            trust_host_root_certs: true
            http_proxy: http://user:pa%40ss@proxy.corp:3128
            inspect_addr: disabled
            auth_token: 4nq9771bPxe8ctg7LKr_2ClH7Y15Zqe4bWLWF9p
            tunnels:
              client:
                subdomain: "example"
                auth: "user:12345"
                proto:
                  https: 8080
              ssh:
                remote_port: 50022
                proto:
                  tcp: 22
              my-personal-site:
                hostname: "my.personal.example.com"
                proto:
                  http: 127.0.0.1:80
            """);

        Assert.Equal("ngrokd.example.com:4443", config.ServerAddr);
        Assert.True(config.TrustHostRootCerts);
        Assert.Equal("http://user:pa%40ss@proxy.corp:3128", config.HttpProxy);
        Assert.Equal("disabled", config.InspectAddr);
        Assert.Equal("4nq9771bPxe8ctg7LKr_2ClH7Y15Zqe4bWLWF9p", config.AuthToken);
        Assert.Equal(["client", "ssh", "my-personal-site"], config.Tunnels.Select(t => t.Name));
        Assert.Equal("example", config.Tunnels[0].Subdomain);
        Assert.Equal(50022, config.Tunnels[1].RemotePort);
        Assert.Equal(("127.0.0.1", 80), (config.Tunnels[2].Protos[0].Host, config.Tunnels[2].Protos[0].Port));
        Assert.Equal("127.0.0.1:80", config.Tunnels[2].Protos[0].LocalAddress);
    }

    [Fact]
    public void Reads_TunnelPS_keys_and_per_tunnel_overrides()
    {
        var config = Parse("""
            authtoken_secret: TunnelToken
            authtoken_vault: LocalStore
            server_certificate_thumbprint: "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"
            skip_certificate_check: no
            inspect: false
            inspect_limit: 50
            inspect_body_limit: 1MB
            host_header: rewrite
            tunnels:
              quiet: { proto: { http: 3000 } }
              loud:
                proto: { http: "https://localhost:8443" }
                inspect: yes
                inspect_limit: 500
                inspect_body_limit: 512KiB
                host_header: app.internal:8443
            """);

        Assert.Equal("TunnelToken", config.AuthTokenSecret);
        Assert.Equal("LocalStore", config.AuthTokenVault);
        Assert.Equal("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", config.ServerCertificateThumbprint);
        Assert.False(config.SkipCertificateCheck);
        Assert.Equal((false, 50, 1024L * 1024, "rewrite"), (config.Inspect, config.InspectLimit, config.InspectBodyLimit, config.HostHeader));

        var quiet = config.Tunnels[0];
        Assert.Equal((false, 50, 1024L * 1024, "rewrite"), (quiet.Inspect, quiet.InspectLimit, quiet.InspectBodyLimit, quiet.HostHeader));
        var loud = config.Tunnels[1];
        Assert.Equal((true, 500, 512L * 1024, "app.internal:8443"), (loud.Inspect, loud.InspectLimit, loud.InspectBodyLimit, loud.HostHeader));
        Assert.Equal(("https", "localhost", 8443), (loud.Protos[0].Scheme, loud.Protos[0].Host, loud.Protos[0].Port));
    }

    [Fact]
    public void Inspect_memory_limit_is_read_at_the_top_and_per_tunnel_and_defaults_to_64_MiB()
    {
        var config = Parse("""
            inspect_memory_limit: 256MiB
            tunnels:
              big: { proto: { http: 3000 } }
              small: { proto: { http: 3001 }, inspect_memory_limit: 512KiB }
            """);

        Assert.Equal(256L * 1024 * 1024, config.InspectMemoryLimit);
        Assert.Equal(256L * 1024 * 1024, config.Tunnels[0].InspectMemoryLimit);
        Assert.Equal(512L * 1024, config.Tunnels[1].InspectMemoryLimit);
        Assert.Equal(AgentConfig.DefaultInspectMemoryLimit, Parse("tunnels: { web: { proto: { http: 80 } } }").Tunnels[0].InspectMemoryLimit);
        Assert.Equal(AgentConfig.DefaultInspectMemoryLimit, new CaptureOptions().MaxBytes);
        Assert.Equal(64L * 1024 * 1024, AgentConfig.DefaultInspectMemoryLimit);
    }

    [Fact]
    public void Defaults_apply_when_nothing_is_set()
    {
        var tunnel = Parse("tunnels: { web: { proto: { http: 80 } } }").Tunnels[0];
        Assert.Equal((1000, 1024L * 1024), (AgentConfig.DefaultInspectLimit, AgentConfig.DefaultInspectBodyLimit));
        Assert.Equal(AgentConfig.DefaultInspectLimit, new CaptureOptions().Capacity);
        Assert.Equal(AgentConfig.DefaultInspectBodyLimit, new CaptureOptions().BodyLimit);
        Assert.Equal(
            (AgentConfig.DefaultInspect, AgentConfig.DefaultInspectLimit, AgentConfig.DefaultInspectBodyLimit, AgentConfig.HostHeaderPreserve),
            (tunnel.Inspect, tunnel.InspectLimit, tunnel.InspectBodyLimit, tunnel.HostHeader));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\n")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    [InlineData("~\n")]
    [InlineData("tunnels:\n")]
    public void An_empty_file_is_an_empty_config(string yaml)
    {
        var config = Parse(yaml);
        Assert.Empty(config.Tunnels);
        Assert.Null(config.AuthToken);
        Assert.Equal(Source, config.SourcePath);
    }

    [Theory]
    [InlineData("8080", "localhost", 8080, "http")]
    [InlineData("localhost:8080", "localhost", 8080, "http")]
    [InlineData("192.168.1.10:3000", "192.168.1.10", 3000, "http")]
    [InlineData("[::1]:3000", "::1", 3000, "http")]
    [InlineData("http://app.local:8080", "app.local", 8080, "http")]
    [InlineData("http://app.local", "app.local", 80, "http")]
    [InlineData("https://app.local", "app.local", 443, "https")]
    [InlineData("https://localhost:8443/", "localhost", 8443, "https")]
    public void Reads_local_addresses(string address, string host, int port, string scheme)
    {
        var binding = Parse($"tunnels: {{ t: {{ proto: {{ http: \"{address}\" }} }} }}").Tunnels[0].Protos[0];
        Assert.Equal((address, host, port, scheme), (binding.LocalAddress, binding.Host, binding.Port, binding.Scheme));
    }

    [Fact]
    public void Unknown_top_level_key_suggests_the_close_one()
    {
        var ex = Fails("server_addr: a.example:443\nauthtokn: abc\n");
        AssertAt(ex, 2, 1);
        Assert.Equal($"{Source}:2:1: Unknown top-level key 'authtokn'. Did you mean 'authtoken'?", ex.Message);
    }

    [Fact]
    public void Unknown_tunnel_key_suggests_the_close_one()
    {
        var ex = Fails("""
            tunnels:
              blog:
                subdomian: blog
                proto: { http: 4000 }
            """);
        AssertAt(ex, 3, 5);
        Assert.Equal($"{Source}:3:5: Unknown key 'subdomian' in tunnel 'blog'. Did you mean 'subdomain'?", ex.Message);
    }

    [Fact]
    public void Unknown_key_without_a_close_match_lists_the_known_keys()
    {
        var ex = Fails("region: eu\n");
        AssertAt(ex, 1, 1);
        Assert.Contains("Unknown top-level key 'region'. Known keys: server_addr,", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_allow_ip_and_deny_ip_as_a_list_or_a_single_entry()
    {
        var config = Parse("""
            tunnels:
              api:
                proto: { https: 8080 }
                allow_ip: [10.0.0.0/8, "2001:db8::/32", 203.0.113.7]
                deny_ip: 10.1.2.3
              ssh:
                proto: { tcp: 22 }
                deny_ip:
                  - 198.51.100.0/24
                  - "::1"
              blog:
                proto: { http: 4000 }
                allow_ip: []
                deny_ip:
            """);

        var api = config.Tunnels[0];
        Assert.Equal(["10.0.0.0/8", "2001:db8::/32", "203.0.113.7"], api.AllowIP);
        Assert.Equal(["10.1.2.3"], api.DenyIP);
        var ssh = config.Tunnels[1];
        Assert.Empty(ssh.AllowIP);
        Assert.Equal(["198.51.100.0/24", "::1"], ssh.DenyIP);
        var blog = config.Tunnels[2];
        Assert.Empty(blog.AllowIP);
        Assert.Empty(blog.DenyIP);
    }

    [Theory]
    [InlineData("allow_ip: [10.0.0.0/8, 10.0.0.300]", 3, 28, "'10.0.0.300' in 'allow_ip' of tunnel 'api' is not an IP address or a CIDR range. Give an IP address")]
    [InlineData("deny_ip: example.com", 3, 14, "'example.com' in 'deny_ip' of tunnel 'api' is not an IP address or a CIDR range. Give an IP address")]
    [InlineData("deny_ip: 2001:db8::/129", 3, 14, "'2001:db8::/129' in 'deny_ip' of tunnel 'api'")]
    [InlineData("allow_ip: \"10.0.0.0/8, 192.168.0.0/16\"", 3, 15, "Write several entries as a list, e.g. 'allow_ip: [10.0.0.0/8, 192.168.0.0/16]'.")]
    [InlineData("allow_ip: { a: b }", 3, 15, "'allow_ip' of tunnel 'api' must be an address or a list of addresses, not a map")]
    [InlineData("allow_ip: [10.0.0.0/8, [1.2.3.4]]", 3, 28, "An entry of 'allow_ip' in tunnel 'api' is not a single value")]
    [InlineData("allow_ip: [10.0.0.0/8, ~]", 3, 28, "An entry of 'allow_ip' in tunnel 'api' is empty")]
    public void A_bad_ip_entry_is_reported_at_the_entry(string line, int row, int column, string expected)
    {
        var ex = Fails("tunnels:\n  api:\n    " + line + "\n    proto: { https: 8080 }\n");
        AssertAt(ex, row, column);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alow_ip", "allow_ip")]
    [InlineData("deny-ip", "deny_ip")]
    [InlineData("denyip", "deny_ip")]
    public void A_misspelt_ip_key_suggests_the_right_one(string typo, string suggestion)
    {
        var ex = Fails($"tunnels:\n  api:\n    {typo}: 10.0.0.0/8\n    proto: {{ https: 8080 }}\n");
        AssertAt(ex, 3, 5);
        Assert.EndsWith($"Did you mean '{suggestion}'?", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Allow_ip_at_the_top_level_says_it_belongs_to_a_tunnel()
    {
        var ex = Fails("allow_ip: 10.0.0.0/8\n");
        AssertAt(ex, 1, 1);
        Assert.Contains("'allow_ip' belongs to a tunnel", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tunnel_key_at_the_top_level_says_where_it_belongs()
    {
        var ex = Fails("subdomain: blog\n");
        Assert.Contains("belongs to a tunnel", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ngrok_2_addr_layout_gets_a_pointed_hint()
    {
        var ex = Fails("tunnels:\n  web:\n    proto: http\n    addr: 8080\n");
        AssertAt(ex, 3, 12);
        Assert.Contains("'proto' of tunnel 'web' is a protocol name, not a map. Map each protocol to its local address, e.g. 'proto: { http: 8080 }'.", ex.Message, StringComparison.Ordinal);
        ex = Fails("tunnels:\n  web:\n    addr: 8080\n    proto: { http: 8080 }\n");
        AssertAt(ex, 3, 5);
        Assert.Contains("put the local address under proto", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_protocol_other_than_http_https_tcp_is_rejected()
    {
        var ex = Fails("tunnels:\n  t:\n    proto: { htps: 80 }\n");
        AssertAt(ex, 3, 14);
        Assert.Equal($"{Source}:3:14: 'htps' is not a protocol TunnelPS tunnels. Did you mean 'https'? Use http, https or tcp.", ex.Message);
        ex = Fails("tunnels:\n  t:\n    proto: { udp: 53 }\n");
        Assert.Contains("'udp' is not a protocol TunnelPS tunnels. Use http, https or tcp.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "out of range")]
    [InlineData("65536", "out of range")]
    [InlineData("localhost:99999", "out of range")]
    [InlineData("localhost", "has no port")]
    [InlineData("bad host:80", "is not a valid host name")]
    [InlineData("ftp://localhost:21", "uses the scheme 'ftp'")]
    [InlineData("http://localhost:80/path", "has a path")]
    public void Bad_local_addresses_are_reported_at_the_value(string address, string expected)
    {
        var ex = Fails($"tunnels:\n  t:\n    proto:\n      http: \"{address}\"\n");
        AssertAt(ex, 4, 13);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tunnel_without_proto_is_reported_at_its_name()
    {
        var ex = Fails("tunnels:\n  lonely:\n    subdomain: x\n");
        AssertAt(ex, 2, 3);
        Assert.Contains("Tunnel 'lonely' has no proto", ex.Message, StringComparison.Ordinal);
        ex = Fails("tunnels:\n  empty:\n");
        AssertAt(ex, 2, 3);
        Assert.Contains("Tunnel 'empty' has no settings", ex.Message, StringComparison.Ordinal);
        ex = Fails("tunnels:\n  e: { proto: {} }\n");
        Assert.Contains("'proto' of tunnel 'e' must map protocols to local addresses", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Remote_port_on_an_http_tunnel_is_rejected()
    {
        var ex = Fails("tunnels:\n  web:\n    proto: { http: 80 }\n    remote_port: 8080\n");
        AssertAt(ex, 4, 5);
        Assert.Equal($"{Source}:4:5: 'remote_port' is set on tunnel 'web', which has no tcp proto. Remove remote_port (http and https tunnels are reached by host name), or add 'tcp' under proto.", ex.Message);
    }

    [Theory]
    [InlineData("remote_port: 70000", 4, 18)]
    [InlineData("remote_port: -1", 4, 18)]
    [InlineData("remote_port: twenty", 4, 18)]
    public void Remote_port_out_of_range_is_rejected(string line, int row, int column)
    {
        var ex = Fails($"tunnels:\n  ssh:\n    proto: {{ tcp: 22 }}\n    {line}\n");
        AssertAt(ex, row, column);
        Assert.Contains("Use a port from 1 to 65535 (0 = any).", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("my_blog")]
    [InlineData("-blog")]
    [InlineData("blog-")]
    [InlineData("bl og")]
    [InlineData("blög")]
    public void A_subdomain_with_invalid_characters_is_rejected(string subdomain)
    {
        var ex = Fails($"tunnels:\n  web:\n    proto: {{ http: 80 }}\n    subdomain: \"{subdomain}\"\n");
        AssertAt(ex, 4, 16);
        Assert.Contains($"The subdomain '{subdomain}' has characters a host name cannot have", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Auth_without_a_colon_is_rejected()
    {
        var ex = Fails("tunnels:\n  api:\n    auth: justauser\n    proto: { https: 8080 }\n");
        AssertAt(ex, 3, 11);
        Assert.Equal($"{Source}:3:11: 'auth' must be 'user:password'. Write the user name, a colon and the password, e.g. 'auth: \"user:secret\"'.", ex.Message);
    }

    [Fact]
    public void Http_only_keys_on_a_tcp_tunnel_are_rejected()
    {
        var ex = Fails("tunnels:\n  ssh:\n    subdomain: ssh\n    proto: { tcp: 22 }\n");
        AssertAt(ex, 3, 5);
        Assert.Contains("'subdomain' is set on tunnel 'ssh', which has only a tcp proto", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subdomain_and_hostname_together_are_rejected()
    {
        var ex = Fails("tunnels:\n  w:\n    subdomain: a\n    hostname: a.example.com\n    proto: { http: 80 }\n");
        AssertAt(ex, 4, 5);
        Assert.Contains("sets both subdomain and hostname", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_keys_are_reported_with_both_positions()
    {
        var ex = Fails("authtoken: a\nserver_addr: x:1\nauthtoken: b\n");
        AssertAt(ex, 3, 1);
        Assert.Equal($"{Source}:3:1: Duplicate key 'authtoken' (first defined at line 1, column 1). Remove one of the two or merge them.", ex.Message);

        ex = Fails("tunnels:\n  blog: { proto: { http: 1 } }\n  blog: { proto: { http: 2 } }\n");
        AssertAt(ex, 3, 3);
        ex = Fails("tunnels:\n  blog: { proto: { http: 1, http: 2 } }\n");
        AssertAt(ex, 2, 29);
    }

    [Fact]
    public void Both_token_spellings_are_rejected()
    {
        var ex = Fails("auth_token: a\nauthtoken: b\n");
        AssertAt(ex, 2, 1);
        Assert.Contains("Both 'auth_token' (line 1) and 'authtoken' are set", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YAML_syntax_errors_carry_their_position()
    {
        var ex = Fails("tunnels:\n  blog:\n    proto: { http: 4000\n  api: {}\n");
        Assert.Equal(TunnelErrorKind.InvalidConfiguration, ex.Kind);
        Assert.True(ex.Line >= 3, $"line {ex.Line}");
        Assert.Contains("Look for an unclosed '{', '[' or quote from here on.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("YAML syntax error: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Line:", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{Source}:{ex.Line}:{ex.Column}: YAML syntax error: ", ex.Message, StringComparison.Ordinal);

        ex = Fails("authtoken: \"unterminated\n");
        Assert.Contains("YAML syntax error", ex.Message, StringComparison.Ordinal);

        ex = Fails("tunnels:\n  blog:\n      proto: { http: 1 }\n    bad: 2\n");
        Assert.Contains("YAML syntax error", ex.Message, StringComparison.Ordinal);
        Assert.Equal(4, ex.Line);
    }

    [Fact]
    public void Tabs_for_indentation_are_a_syntax_error()
    {
        var ex = Fails("tunnels:\n\tblog: { proto: { http: 1 } }\n");
        Assert.Equal((2, 1), (ex.Line, ex.Column));
        Assert.Equal($"{Source}:2:1: YAML syntax error: a tab indents this line. Indent with spaces; YAML does not allow tabs for indentation.", ex.Message);
    }

    [Theory]
    [InlineData("trust_host_root_certs: maybe", "Use true or false.")]
    [InlineData("inspect_limit: lots", "Use a number of requests from 0 to 100000.")]
    [InlineData("inspect_limit: 100001", "Use a number of requests from 0 to 100000.")]
    [InlineData("inspect_body_limit: 12 parsecs", "not a size")]
    [InlineData("inspect_body_limit: 1GB", "more than the 64 MiB allowed")]
    [InlineData("inspect_memory_limit: plenty", "'inspect_memory_limit' is 'plenty', which is not a size")]
    [InlineData("inspect_memory_limit: 1KB", "'inspect_memory_limit' is 1024 bytes, outside the 64 KiB to 64 GiB allowed")]
    [InlineData("host_header: http://x", "Use preserve, rewrite, or a literal host")]
    [InlineData("server_certificate_thumbprint: abc", "'server_certificate_thumbprint': 'abc' is not a SHA-256 fingerprint (64 hex digits). Give the server certificate's SHA-256 fingerprint")]
    [InlineData("server_addr: 'a.example:99999'", "out of range")]
    [InlineData("server_addr: 'a.example:443,b.example:99999'", "out of range")]
    [InlineData("server_addr: 'a.example:443,,b.example'", "'server_addr' has an empty item")]
    [InlineData("inspect_addr: localhost", "'inspect_addr' has no port")]
    [InlineData("inspect_addr: inspector.example.com:4040", "inspect_addr 'inspector.example.com:4040' is not an inspector address")]
    [InlineData("http_proxy: socks5://proxy:1080", "'http_proxy' is not usable: The proxy 'socks5://proxy:1080' uses the scheme 'socks5'")]
    [InlineData("authtoken: { a: b }", "'authtoken' must be a single value, not a map")]
    [InlineData("tunnels: [a, b]", "'tunnels' must be a map of tunnel names to settings")]
    public void Bad_top_level_values_are_reported_at_the_value(string line, string expected)
    {
        var ex = Fails("# TunnelPS\n" + line + "\n");
        Assert.Equal(2, ex.Line);
        Assert.Equal(line.IndexOf(':', StringComparison.Ordinal) + 3, ex.Column);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    [InlineData("abcdef0123456789abcdef0123456789abcdef01")]
    [InlineData("\"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01\"")]
    [InlineData("\"ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01\"")]
    public void A_SHA1_pin_is_refused_at_its_position_saying_to_give_the_SHA256_fingerprint(string pin)
    {
        var ex = Fails("server_addr: tunnel.example.com\nserver_certificate_thumbprint: " + pin + "\n");

        AssertAt(ex, 2, 32);
        Assert.Contains("is a SHA-1 fingerprint (40 hex digits); TunnelPS pins the SHA-256 fingerprint of the server certificate, so this pin could never match.", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("Give the server certificate's SHA-256 fingerprint: 64 hex digits, as Get-TunnelServer shows it in CertificateThumbprint (spaces, colons and dashes are ignored).", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_proxy_password_never_appears_in_the_error()
    {
        var ex = Fails("http_proxy: http://alice:hunter2@proxy:99999\n");
        Assert.DoesNotContain("hunter2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_map_document_is_rejected()
    {
        var ex = Fails("- a\n- b\n");
        AssertAt(ex, 1, 1);
        Assert.Contains("The file is not a map of settings", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_document_is_rejected()
    {
        var ex = Fails("authtoken: a\n---\nauthtoken: b\n");
        AssertAt(ex, 2, 1);
        Assert.Contains("more than one YAML document", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Anchors_and_aliases_resolve()
    {
        var config = Parse("tunnels:\n  a: &web { proto: { http: 80 } }\n  b: *web\n");
        Assert.Equal(80, config.Tunnels[1].Protos[0].Port);
        var ex = Fails("tunnels:\n  b: *nowhere\n");
        Assert.Equal(2, ex.Line);
        Assert.Contains("'*nowhere'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_addr_accepts_the_ngrok_forms()
    {
        Assert.Equal("disabled", Parse("inspect_addr: disabled").InspectAddr);
        Assert.Equal("127.0.0.1:4040", Parse("inspect_addr: 127.0.0.1:4040").InspectAddr);
        Assert.Equal("4040", Parse("inspect_addr: 4040").InspectAddr);
    }

    [Fact]
    public void Inspect_addr_disabled_turns_capture_off_as_in_ngrok_1x_unless_inspect_says_otherwise()
    {
        Assert.False(Parse("inspect_addr: disabled\ntunnels:\n  web: { proto: { http: 80 } }\n").Tunnels[0].Inspect);
        Assert.True(Parse("inspect_addr: 127.0.0.1:4040\ntunnels:\n  web: { proto: { http: 80 } }\n").Tunnels[0].Inspect);
        Assert.True(Parse("inspect_addr: disabled\ninspect: true\ntunnels:\n  web: { proto: { http: 80 } }\n").Tunnels[0].Inspect);
        Assert.True(Parse("inspect_addr: disabled\ntunnels:\n  web: { inspect: true, proto: { http: 80 } }\n").Tunnels[0].Inspect);
    }

    [Theory]
    [InlineData("65536", 65536L)]
    [InlineData("512KiB", 512L * 1024)]
    [InlineData("512 KB", 512L * 1024)]
    [InlineData("1MB", 1024L * 1024)]
    [InlineData("1.5mb", 3L * 512 * 1024)]
    [InlineData("2M", 2L * 1024 * 1024)]
    [InlineData("0", 0L)]
    public void Body_limits_accept_sizes(string text, long bytes)
    {
        Assert.Equal(bytes, Parse($"inspect_body_limit: {text}").InspectBodyLimit);
    }

    [Fact]
    public void Load_reads_a_file_and_sets_the_source_path()
    {
        var folder = Directory.CreateTempSubdirectory("tunnelps-config-");
        try
        {
            var path = Path.Combine(folder.FullName, "tunnelps.yml");
            File.WriteAllText(path, "authtoken: abc\ntunnels:\n  web: { proto: { http: 80 } }\n");
            var config = AgentConfigLoader.Load(path);
            Assert.Equal(path, config.SourcePath);
            Assert.Equal("abc", config.AuthToken);

            File.WriteAllText(path, "tunnels:\n  web: { proto: { htp: 80 } }\n");
            var ex = Assert.Throws<ConfigurationException>(() => AgentConfigLoader.Load(path));
            Assert.StartsWith($"{path}:2:19: ", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_missing_file_is_NotFound_naming_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), "tunnelps-missing-" + Guid.NewGuid().ToString("N"), "tunnelps.yml");
        var ex = Assert.Throws<ConfigurationException>(() => AgentConfigLoader.Load(path));
        Assert.Equal(TunnelErrorKind.NotFound, ex.Kind);
        Assert.Equal(path, ex.Path);
        Assert.Contains($"'{path}' does not exist", ex.Message, StringComparison.Ordinal);

        var empty = AgentConfigLoader.LoadIfExists(path);
        Assert.Empty(empty.Tunnels);
        Assert.Equal(path, empty.SourcePath);
    }

    [Fact]
    public void DefaultPath_uses_TUNNELPS_CONFIG_then_the_user_profile()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".tunnelps", "tunnelps.yml"), AgentConfigLoader.DefaultPath(_ => null));
        Assert.Equal(Path.Combine(home, ".tunnelps", "tunnelps.yml"), AgentConfigLoader.DefaultPath(_ => " "));
        Assert.Equal("/etc/tunnelps/agent.yml", AgentConfigLoader.DefaultPath(n => n == "TUNNELPS_CONFIG" ? "/etc/tunnelps/agent.yml" : null));
        Assert.Equal(Path.Combine(home, "cfg.yml"), AgentConfigLoader.DefaultPath(n => n == "TUNNELPS_CONFIG" ? "~/cfg.yml" : null));

        Assert.Equal("/explicit.yml", AgentConfigLoader.ResolvePath("/explicit.yml", _ => "/from-env.yml"));
        Assert.Equal("/from-env.yml", AgentConfigLoader.ResolvePath(null, _ => "/from-env.yml"));
    }

    [Theory]
    [InlineData("4nq9771bPxe8ctg7LKr_2ClH7Y15Zqe4bWLWF9p", "********")]
    [InlineData("12345678", "********")]
    [InlineData("1", "********")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Mask_shows_no_character_of_a_token_nor_its_length(string? token, string expected)
    {
        Assert.Equal(expected, AgentConfig.Mask(token));
    }

    [Fact]
    public void ToString_never_shows_the_token()
    {
        var config = Parse("authtoken: 4nq9771bPxe8ctg7LKr_2ClH7Y15Zqe4bWLWF9p\n");
        Assert.DoesNotContain("4nq9", config.ToString(), StringComparison.Ordinal);
        Assert.Contains("AuthToken = ********", config.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Server_addr_may_name_several_nodes_of_a_cluster()
    {
        Assert.Equal("node1.example:443, node2.example", Parse("server_addr: node1.example:443, node2.example\n").ServerAddr);
    }

    [Theory]
    [InlineData("server_addr: [node1.example:443, node2.example]\n")]
    [InlineData("server_addr:\n  - node1.example:443\n  - 'node2.example'\n")]
    public void Server_addr_may_be_a_YAML_list_of_the_nodes(string yaml)
    {
        Assert.Equal("node1.example:443,node2.example", Parse(yaml).ServerAddr);
    }

    [Theory]
    [InlineData("server_addr: []\n", 1, 14, "'server_addr' is an empty list")]
    [InlineData("server_addr:\n  - a.example:443\n  - b.example:99999\n", 3, 5, "out of range")]
    [InlineData("server_addr:\n  - a.example:443,b.example:443\n", 2, 5, "An item of 'server_addr' is not one host:port")]
    [InlineData("server_addr: [a.example:443, { host: b }]\n", 1, 30, "An item of 'server_addr' is not one host:port")]
    public void A_bad_server_addr_list_is_reported_at_the_item(string yaml, int line, int column, string expected)
    {
        var ex = Fails(yaml);
        Assert.Equal((line, column), (ex.Line, ex.Column));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
