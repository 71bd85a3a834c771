using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>The SNI callback's choice: minted certificates only for served names under the domain, cached per name.</summary>
public sealed class ServerCertificateSelectorTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tunnelps-sni-" + Guid.NewGuid().ToString("n"));
    private readonly HashSet<string> _served = new(StringComparer.OrdinalIgnoreCase) { "api.localhost", "blog.localhost", "deep.api.localhost" };
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly X509Certificate2 _default;
    private readonly LocalCertificateAuthority _authority;

    public ServerCertificateSelectorTests()
    {
        (_default, _authority) = CertificateStore.LoadOrCreateDefault("localhost", _folder);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private ServerCertificateSelector Selector(int capacity = ServerCertificateSelector.DefaultCapacity) =>
        new(_default, _authority, "localhost", _served.Contains, _time, capacity);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("localhost")] // the domain itself: the control plane keeps the pinned certificate
    [InlineData("example.org")] // a foreign name
    [InlineData("api.example.org")]
    [InlineData("nosuch.localhost")] // under the domain, but no tunnel serves it
    [InlineData("localhost.evil.example")]
    [InlineData("a_b.localhost")] // not a host name
    [InlineData("127.0.0.1")]
    public void A_name_the_server_does_not_serve_gets_the_default_certificate_and_mints_nothing(string? serverName)
    {
        var selector = Selector();

        var certificate = selector.CertificateFor(serverName);

        Assert.Equal(_default.Thumbprint, certificate.Thumbprint);
        Assert.Equal(0, selector.MintCount);
        Assert.Equal(0, selector.CachedCount);
    }

    [Fact]
    public void A_served_name_gets_a_certificate_for_exactly_that_name_issued_by_the_CA_with_the_servers_key()
    {
        var selector = Selector();

        var certificate = selector.CertificateFor("API.localhost.");

        Assert.Equal(1, selector.MintCount);
        var names = Assert.Single(certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["api.localhost"], names.EnumerateDnsNames());
        Assert.Empty(names.EnumerateIPAddresses());
        Assert.Equal("CN=api.localhost", certificate.Subject);
        Assert.True(_authority.Issued(certificate));
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(CertificateStore.SpkiPin(_default), CertificateStore.SpkiPin(certificate));
        Assert.Equal(_time.GetUtcNow() + ServerCertificateSelector.LeafLifetime, new DateTimeOffset(certificate.NotAfter), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void Each_name_is_minted_once_and_cached()
    {
        var selector = Selector();

        var api = selector.OptionsFor("api.localhost");
        var apiAgain = selector.OptionsFor("api.localhost");
        var blog = selector.OptionsFor("blog.localhost");
        var deep = selector.OptionsFor("deep.api.localhost");

        Assert.Same(api, apiAgain);
        Assert.NotSame(api, blog);
        Assert.Equal(3, selector.MintCount);
        Assert.Equal(3, selector.CachedCount);
        Assert.Equal(["deep.api.localhost"], deep.ServerCertificateContext!.TargetCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
    }

    [Fact]
    public void A_cached_certificate_is_minted_again_when_it_nears_its_end()
    {
        var selector = Selector();
        var first = selector.CertificateFor("api.localhost");

        _time.Advance(ServerCertificateSelector.LeafLifetime - ServerCertificateSelector.RenewBefore - TimeSpan.FromHours(2));
        Assert.Same(first, selector.CertificateFor("api.localhost"));

        _time.Advance(TimeSpan.FromHours(2));
        var renewed = selector.CertificateFor("api.localhost");

        Assert.NotEqual(first.Thumbprint, renewed.Thumbprint);
        Assert.True(renewed.NotAfter > first.NotAfter);
        Assert.Equal(2, selector.MintCount);
        Assert.Equal(1, selector.CachedCount);
    }

    [Fact]
    public void The_cache_is_bounded_and_drops_the_least_recently_used_name()
    {
        var selector = Selector(capacity: 2);

        var api = selector.OptionsFor("api.localhost");
        _ = selector.OptionsFor("blog.localhost");
        Assert.Same(api, selector.OptionsFor("api.localhost")); // api is now the most recent
        _ = selector.OptionsFor("deep.api.localhost"); // blog goes

        Assert.Equal(2, selector.CachedCount);
        Assert.Same(api, selector.OptionsFor("api.localhost"));
        Assert.Equal(3, selector.MintCount);
        _ = selector.OptionsFor("blog.localhost");
        Assert.Equal(4, selector.MintCount);
        Assert.Equal(2, selector.CachedCount);
    }

    [Fact]
    public void A_name_that_stops_being_served_gets_the_default_certificate_again()
    {
        var selector = Selector();
        _ = selector.CertificateFor("blog.localhost");

        _served.Remove("blog.localhost");

        Assert.Equal(_default.Thumbprint, selector.CertificateFor("blog.localhost").Thumbprint);
    }

    [Fact]
    public void Without_a_CA_every_name_gets_the_given_certificate()
    {
        using var given = CertificateStore.CreateSelfSigned("localhost");
        var selector = new ServerCertificateSelector(given, null, "localhost", _served.Contains, _time);

        Assert.Equal(given.Thumbprint, selector.CertificateFor("api.localhost").Thumbprint);
        Assert.Equal(given.Thumbprint, selector.CertificateFor(null).Thumbprint);
        Assert.Equal(0, selector.MintCount);
    }
}
