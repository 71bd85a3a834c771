using System.Net;

using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

public sealed class ProxySettingsTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.GetValueOrDefault(name);
    }

    [Theory]
    [InlineData("http://proxy.corp:3128", "proxy.corp", 3128)]
    [InlineData("HTTP://Proxy.Corp:3128/", "proxy.corp", 3128)]
    [InlineData("proxy.corp:8080", "proxy.corp", 8080)]
    [InlineData("proxy.corp", "proxy.corp", 1080)]
    [InlineData("http://proxy.corp", "proxy.corp", 1080)]
    [InlineData("http://proxy.corp:80", "proxy.corp", 80)]
    [InlineData("  10.0.0.5:3128  ", "10.0.0.5", 3128)]
    [InlineData("http://[::1]:3128", "[::1]", 3128)]
    [InlineData("[fd00::5]", "[fd00::5]", 1080)]
    [InlineData("http://proxy.corp:3128/ignored/path", "proxy.corp", 3128)]
    public void Parse_reads_host_and_port_with_curl_defaults(string value, string host, int port)
    {
        var settings = ProxySettings.Parse(value);
        Assert.Equal("http", settings.Address.Scheme);
        Assert.Equal(host, settings.Address.Host);
        Assert.Equal(port, settings.Address.Port);
        Assert.Null(settings.Credential);
        Assert.Equal($"http://{host}:{port}", settings.DisplayAddress);
    }

    [Fact]
    public void Parse_moves_percent_decoded_user_info_into_the_credential()
    {
        var settings = ProxySettings.Parse("http://al%40ice:p%3Ass%20w%25@proxy.corp:3128");
        Assert.NotNull(settings.Credential);
        Assert.Equal("al@ice", settings.Credential.UserName);
        Assert.Equal("p:ss w%", settings.Credential.Password);
        Assert.Equal(string.Empty, settings.Address.UserInfo);
        Assert.Equal("http://proxy.corp:3128", settings.DisplayAddress);
        Assert.DoesNotContain("p%3Ass", settings.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_reads_a_domain_from_user_info()
    {
        var settings = ProxySettings.Parse(@"http://CORP%5Calice:pw@proxy.corp:8080");
        Assert.Equal("alice", settings.Credential!.UserName);
        Assert.Equal("CORP", settings.Credential.Domain);
        Assert.Equal("pw", settings.Credential.Password);
    }

    [Fact]
    public void Parse_prefers_an_explicit_credential_over_user_info()
    {
        var explicitCredential = new NetworkCredential("bob", "other");
        var settings = ProxySettings.Parse("http://alice:pw@proxy.corp:8080", explicitCredential);
        Assert.Same(explicitCredential, settings.Credential);
    }

    [Fact]
    public void Parse_takes_user_without_password()
    {
        var settings = ProxySettings.Parse("http://alice@proxy.corp:8080");
        Assert.Equal("alice", settings.Credential!.UserName);
        Assert.Equal(string.Empty, settings.Credential.Password);
    }

    [Theory]
    [InlineData("https://proxy.corp:443", "https")]
    [InlineData("socks5://proxy.corp:1080", "socks5")]
    [InlineData("socks5h://user:secret@proxy.corp:1080", "socks5h")]
    public void Parse_rejects_other_schemes_naming_the_value(string value, string scheme)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxySettings.Parse(value));
        Assert.Equal(TunnelErrorKind.InvalidConfiguration, ex.Kind);
        Assert.Contains($"uses the scheme '{scheme}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("proxy.corp", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("proxy.corp:0", "not a number from 1 to 65535")]
    [InlineData("proxy.corp:70000", "not a number from 1 to 65535")]
    [InlineData("proxy.corp:http", "not a number from 1 to 65535")]
    [InlineData("http://:8080", "has no host")]
    [InlineData("http://[::1:8080", "without its closing ']'")]
    [InlineData("http://bad host:8080", "not a valid host name")]
    public void Parse_rejects_malformed_values(string value, string expected)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxySettings.Parse(value));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_redacts_the_password_in_errors()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxySettings.Parse("http://alice:hunter2@proxy.corp:99999"));
        Assert.Contains("http://alice:****@proxy.corp:99999", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromEnvironment_returns_null_when_nothing_is_set()
    {
        Assert.Null(ProxySettings.FromEnvironment(Env(("NO_PROXY", "localhost"))));
        Assert.Null(ProxySettings.FromEnvironment(Env(("HTTPS_PROXY", "  "))));
    }

    [Theory]
    [InlineData("HTTPS_PROXY")]
    [InlineData("https_proxy")]
    [InlineData("HTTP_PROXY")]
    [InlineData("http_proxy")]
    [InlineData("ALL_PROXY")]
    [InlineData("all_proxy")]
    public void FromEnvironment_reads_each_variable(string name)
    {
        var settings = ProxySettings.FromEnvironment(Env((name, "http://proxy.corp:3128")));
        Assert.Equal("http://proxy.corp:3128", settings!.DisplayAddress);
    }

    [Fact]
    public void FromEnvironment_takes_the_first_set_in_order()
    {
        var env = Env(
            ("all_proxy", "all:1"), ("ALL_PROXY", "ALL:2"), ("http_proxy", "http:3"),
            ("HTTP_PROXY", "HTTP:4"), ("https_proxy", "https:5"), ("HTTPS_PROXY", "HTTPS:6"));
        Assert.Equal("http://https:6", ProxySettings.FromEnvironment(env)!.DisplayAddress);
        env = Env(("all_proxy", "all:1"), ("ALL_PROXY", "ALL:2"), ("http_proxy", "http:3"), ("HTTP_PROXY", "HTTP:4"), ("https_proxy", "https:5"));
        Assert.Equal("http://https:5", ProxySettings.FromEnvironment(env)!.DisplayAddress);
        env = Env(("all_proxy", "all:1"), ("ALL_PROXY", "ALL:2"), ("http_proxy", "http:3"), ("HTTP_PROXY", "HTTP:4"));
        Assert.Equal("http://http:4", ProxySettings.FromEnvironment(env)!.DisplayAddress);
        env = Env(("all_proxy", "all:1"), ("ALL_PROXY", "ALL:2"), ("http_proxy", "http:3"));
        Assert.Equal("http://http:3", ProxySettings.FromEnvironment(env)!.DisplayAddress);
        env = Env(("all_proxy", "all:1"), ("ALL_PROXY", "ALL:2"));
        Assert.Equal("http://all:2", ProxySettings.FromEnvironment(env)!.DisplayAddress);
    }

    [Fact]
    public void FromEnvironment_reads_credentials_and_no_proxy()
    {
        var settings = ProxySettings.FromEnvironment(Env(
            ("https_proxy", "http://us%3Aer:pa%40ss@proxy.corp:3128"),
            ("no_proxy", "localhost, .internal.corp ,10.0.0.0/8")))!;
        Assert.Equal("us:er", settings.Credential!.UserName);
        Assert.Equal("pa@ss", settings.Credential.Password);
        Assert.Equal(["localhost", ".internal.corp", "10.0.0.0/8"], settings.Bypass);
    }

    [Fact]
    public void FromEnvironment_prefers_NO_PROXY_over_no_proxy()
    {
        var settings = ProxySettings.FromEnvironment(Env(("HTTP_PROXY", "proxy:1"), ("NO_PROXY", "a.example"), ("no_proxy", "b.example")))!;
        Assert.Equal(["a.example"], settings.Bypass);
    }

    [Fact]
    public void FromEnvironment_names_the_variable_holding_an_unusable_value()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() =>
            ProxySettings.FromEnvironment(Env(("ALL_PROXY", "socks5://user:pw@proxy.corp:1080"))));
        Assert.StartsWith("The environment variable ALL_PROXY is not usable:", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(":pw@", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    // "*" bypasses all.
    [InlineData("*", "anything.example", 443, true)]
    // Bare domain: itself and subdomains, not lookalikes.
    [InlineData("example.com", "example.com", 443, true)]
    [InlineData("example.com", "tunnel.example.com", 443, true)]
    [InlineData("example.com", "EXAMPLE.COM.", 443, true)]
    [InlineData("example.com", "badexample.com", 443, false)]
    [InlineData("example.com", "example.com.evil", 443, false)]
    // Leading dot and "*." behave the same (curl).
    [InlineData(".example.com", "a.b.example.com", 443, true)]
    [InlineData(".example.com", "example.com", 443, true)]
    [InlineData("*.example.com", "a.example.com", 443, true)]
    [InlineData(".example.com", "notexample.com", 443, false)]
    // host:port.
    [InlineData("example.com:4443", "example.com", 4443, true)]
    [InlineData("example.com:4443", "example.com", 443, false)]
    // IP literals.
    [InlineData("127.0.0.1", "127.0.0.1", 443, true)]
    [InlineData("127.0.0.1", "127.0.0.2", 443, false)]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080, true)]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8081, false)]
    [InlineData("::1", "::1", 443, true)]
    [InlineData("::1", "[::1]", 443, true)]
    [InlineData("[::1]", "::1", 443, true)]
    [InlineData("[::1]:4443", "[::1]", 4443, true)]
    [InlineData("[::1]:4443", "::1", 443, false)]
    [InlineData("2001:db8::1", "2001:0db8:0:0::1", 443, true)]
    // CIDR on IP literals only.
    [InlineData("10.0.0.0/8", "10.20.30.40", 443, true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", 443, false)]
    [InlineData("10.0.0.0/8", "ten.example", 443, false)]
    [InlineData("fd00::/8", "fd12::1", 443, true)]
    [InlineData("fd00::/8", "fe80::1", 443, false)]
    public void ShouldBypass_matches_no_proxy_entries(string entry, string host, int port, bool expected)
    {
        var settings = ProxySettings.Parse("proxy:3128") with { Bypass = [entry] };
        Assert.Equal(expected, settings.ShouldBypass(host, port));
    }

    [Fact]
    public void ShouldBypass_is_false_without_entries()
    {
        Assert.False(ProxySettings.Parse("proxy:3128").ShouldBypass("localhost", 80));
        Assert.False((ProxySettings.Parse("proxy:3128") with { Bypass = [] }).ShouldBypass("localhost", 80));
    }

    [Fact]
    public void ShouldBypass_checks_every_entry()
    {
        var settings = ProxySettings.FromEnvironment(Env(("HTTP_PROXY", "proxy:3128"), ("NO_PROXY", "localhost,127.0.0.1,.corp")))!;
        Assert.True(settings.ShouldBypass("localhost", 4443));
        Assert.True(settings.ShouldBypass("127.0.0.1", 4443));
        Assert.True(settings.ShouldBypass("git.corp", 443));
        Assert.False(settings.ShouldBypass("tunnel.example.com", 443));
    }
}
