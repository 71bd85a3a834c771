using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

/// <summary>The server config file's acme: section.</summary>
public sealed class ServerAcmeConfigTests
{
    private static readonly string Base = Path.Combine(Path.GetTempPath(), "tunnelps-acme-config");

    private static ServerConfig Parse(string yaml) => ServerConfigLoader.Parse(yaml, "server.yml", Base);

    [Fact]
    public void Every_acme_setting_is_read_with_paths_under_the_file_s_folder()
    {
        var config = Parse("""
            domain: tunnel.example.com
            acme:
              directory: https://acme-staging-v02.api.letsencrypt.org/directory
              email: admin@example.com
              accept_terms_of_service: true
              root_certificate: ca/root.pem
              eab_key_id: kid-1
              eab_hmac_key_name: AcmeEab
              challenges: [http-01, tls-alpn-01]
              preferred_chain: ISRG Root X1
              dns_server: ns1.example.com:53
              dns_zone: example.com
              dns_key_name: tunnelps
              dns_key_secret_name: TsigSecret
            """);

        var acme = Assert.IsType<ServerAcmeConfig>(config.Acme);
        Assert.Equal(new Uri("https://acme-staging-v02.api.letsencrypt.org/directory"), acme.Directory);
        Assert.Equal("admin@example.com", acme.Email);
        Assert.True(acme.AcceptTermsOfService);
        Assert.Equal(Path.Combine(Base, "ca", "root.pem"), acme.RootCertificate);
        Assert.Equal("kid-1", acme.EabKeyId);
        Assert.Equal("AcmeEab", acme.EabHmacKeyName);
        Assert.Equal(["http-01", "tls-alpn-01"], acme.Challenges);
        Assert.Equal("ISRG Root X1", acme.PreferredChain);
        Assert.Equal("ns1.example.com:53", acme.DnsServer);
        Assert.Equal("example.com", acme.DnsZone);
        Assert.Equal("tunnelps", acme.DnsKeyName);
        Assert.Equal("TsigSecret", acme.DnsKeySecretName);
    }

    [Fact]
    public void An_empty_acme_section_turns_ACME_on_with_the_defaults_and_none_leaves_it_off()
    {
        Assert.NotNull(Parse("acme:\n").Acme);
        Assert.Null(Parse("domain: a.example.com\n").Acme);
    }

    [Theory]
    [InlineData("acme:\n  directory: ftp://ca.example/dir\n", "not an ACME directory URL")]
    [InlineData("acme:\n  challenges: [dns-01]\n", "'dns-01' is not a challenge type")]
    [InlineData("acme:\n  terms: true\n", "terms")]
    public void A_wrong_acme_value_is_reported_at_its_place(string yaml, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Parse(yaml));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("server.yml:", error.Message, StringComparison.Ordinal);
    }
}
