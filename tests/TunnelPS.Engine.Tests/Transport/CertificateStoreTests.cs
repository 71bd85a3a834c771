using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>The default certificates: a local CA per domain, kept private, constrained by name, and the server certificate it issues.</summary>
public sealed class CertificateStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tunnelps-certs-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void The_CA_is_created_once_per_domain_and_kept_readable_by_its_owner_only()
    {
        var (first, firstAuthority) = CertificateStore.LoadOrCreateDefault("localhost", _folder);
        var (second, secondAuthority) = CertificateStore.LoadOrCreateDefault("localhost", _folder);

        Assert.Equal(firstAuthority.Certificate.Thumbprint, secondAuthority.Certificate.Thumbprint);
        Assert.Equal(first.Thumbprint, second.Thumbprint);
        using var exported = CertificateStore.LoadOrCreateAuthorityCertificate("localhost", _folder);
        Assert.Equal(firstAuthority.Certificate.Thumbprint, exported.Thumbprint);
        Assert.False(exported.HasPrivateKey);

        var (other, otherAuthority) = CertificateStore.LoadOrCreateDefault("tunnel.example.com", _folder);
        Assert.NotEqual(firstAuthority.Certificate.Thumbprint, otherAuthority.Certificate.Thumbprint);
        Assert.True(otherAuthority.Issued(other));
        Assert.False(firstAuthority.Issued(other));

        if (!OperatingSystem.IsWindows())
        {
            foreach (var file in new[] { "ca-localhost.pfx", "server-localhost.pfx", "ca-tunnel.example.com.pfx" })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, file)));
            }
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_folder));
        }
    }

    [Fact]
    public void The_CA_is_an_ECDSA_P256_CA_limited_by_name_constraints_to_the_domain_localhost_and_loopback()
    {
        var (_, authority) = CertificateStore.LoadOrCreateDefault("tunnel.example.com", _folder);
        var ca = authority.PublicCertificate;

        Assert.Equal("1.2.840.10045.2.1", ca.PublicKey.Oid.Value); // id-ecPublicKey
        var basic = Assert.Single(ca.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.True(basic.CertificateAuthority);
        Assert.True(basic.HasPathLengthConstraint);
        Assert.Equal(0, basic.PathLengthConstraint);
        var constraints = Assert.Single(ca.Extensions.Cast<X509Extension>(), e => e.Oid?.Value == "2.5.29.30");
        Assert.True(constraints.Critical);
        Assert.Equal(LocalCertificateAuthority.NameConstraints(["tunnel.example.com", "localhost"]).RawData, constraints.RawData);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = DateTimeOffset.UtcNow;
        using var inside = authority.Issue(["blog.tunnel.example.com"], [IPAddress.Loopback], key, now.AddHours(-1), now.AddDays(1));
        using var outside = authority.Issue(["www.example.org"], [], key, now.AddHours(-1), now.AddDays(1));
        using var foreignAddress = authority.Issue(["tunnel.example.com"], [IPAddress.Parse("192.0.2.1")], key, now.AddHours(-1), now.AddDays(1));

        Assert.True(authority.Issued(inside));
        Assert.False(authority.Issued(outside), "a name outside the constraints must not validate under the CA");
        Assert.False(authority.Issued(foreignAddress), "an address outside loopback must not validate under the CA");
        Assert.Contains(X509ChainStatusFlags.HasNotPermittedNameConstraint, ChainStatus(outside, ca));
        Assert.Contains(X509ChainStatusFlags.HasNotPermittedNameConstraint, ChainStatus(foreignAddress, ca));
        Assert.Empty(ChainStatus(inside, ca));
    }

    private static List<X509ChainStatusFlags> ChainStatus(X509Certificate2 leaf, X509Certificate2 root)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.Build(leaf);
        return chain.ChainStatus.Select(s => s.Status).ToList();
    }

    [Fact]
    public void The_server_certificate_is_issued_by_the_CA_for_the_domain_its_wildcard_localhost_and_loopback()
    {
        var (certificate, authority) = CertificateStore.LoadOrCreateDefault("localhost", _folder);

        Assert.True(certificate.HasPrivateKey);
        Assert.True(authority.Issued(certificate));
        var names = Assert.Single(certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["localhost", "*.localhost"], names.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], names.EnumerateIPAddresses());
        Assert.True(certificate.NotAfter > DateTime.Now.AddYears(9), "the pinned certificate lives as long as the CA, so pins stay put");
    }

    [Fact]
    public void A_self_signed_certificate_of_an_earlier_version_is_issued_again_by_the_CA_with_the_same_key()
    {
        Directory.CreateDirectory(_folder);
        using var old = CertificateStore.CreateSelfSigned("localhost");
        File.WriteAllBytes(Path.Combine(_folder, "server-localhost.pfx"), old.Export(X509ContentType.Pkcs12));

        var (certificate, authority) = CertificateStore.LoadOrCreateDefault("localhost", _folder);

        Assert.True(authority.Issued(certificate));
        Assert.NotEqual(CertificateStore.Thumbprint(old), CertificateStore.Thumbprint(certificate));
        Assert.Equal(CertificateStore.SpkiPin(old), CertificateStore.SpkiPin(certificate));
    }

    [Fact]
    public void A_server_certificate_near_its_end_is_renewed_with_the_same_key()
    {
        var start = DateTimeOffset.UtcNow;
        var (first, _) = CertificateStore.LoadOrCreateDefault("localhost", _folder, start);
        var (same, _) = CertificateStore.LoadOrCreateDefault("localhost", _folder, start.AddYears(5));
        // The CA ends with the certificate, so both are made again; the server's key stays.
        var (renewed, authority) = CertificateStore.LoadOrCreateDefault("localhost", _folder, new DateTimeOffset(first.NotAfter.ToUniversalTime()).AddDays(-3));

        Assert.Equal(first.Thumbprint, same.Thumbprint);
        Assert.NotEqual(first.Thumbprint, renewed.Thumbprint);
        Assert.True(authority.Issued(renewed));
        Assert.Equal(CertificateStore.SpkiPin(first), CertificateStore.SpkiPin(renewed));
    }

    [Fact]
    public void The_SPKI_pin_is_curls_sha256_base64_of_the_public_key_info()
    {
        var (certificate, _) = CertificateStore.LoadOrCreateDefault("localhost", _folder);

        var expected = "sha256//" + Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
        Assert.Equal(expected, CertificateStore.SpkiPin(certificate));
        Assert.Matches("^sha256//[A-Za-z0-9+/]{43}=$", CertificateStore.SpkiPin(certificate));
    }

    [Fact]
    public void Processes_and_threads_that_start_at_once_share_one_CA()
    {
        var authorities = new string[8];
        Parallel.For(0, authorities.Length, i => authorities[i] = CertificateStore.LoadOrCreateDefault("localhost", _folder).Authority.Certificate.Thumbprint);

        Assert.Single(authorities.Distinct());
    }
}
