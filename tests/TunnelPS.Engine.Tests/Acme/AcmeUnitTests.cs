using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Acme;

/// <summary>The ACME pieces that need no ACME server: ALPN reading, JWS, the TLS-ALPN-01 certificate, HTTP-01 answers, chains.</summary>
public sealed class AcmeUnitTests
{
    [Fact]
    public async Task A_real_ClientHello_offering_acme_tls_1_is_told_apart_from_an_ordinary_one()
    {
        var acme = await RecordedClientHello.RecordAsync("app.acme.test", [AcmeChallengeResponder.AcmeTls1]);
        var http = await RecordedClientHello.RecordAsync("app.acme.test", [SslApplicationProtocol.Http11]);
        var none = await RecordedClientHello.RecordAsync("app.acme.test");
        var both = await RecordedClientHello.RecordAsync("app.acme.test", [SslApplicationProtocol.Http2, AcmeChallengeResponder.AcmeTls1]);

        Assert.True(ClientHelloAlpn.OffersAcmeTls(acme));
        Assert.True(ClientHelloAlpn.OffersAcmeTls(both));
        Assert.False(ClientHelloAlpn.OffersAcmeTls(http));
        Assert.False(ClientHelloAlpn.OffersAcmeTls(none));
    }

    [Fact]
    public async Task Every_truncation_and_corruption_of_a_hello_is_read_without_an_exception()
    {
        var hello = await RecordedClientHello.RecordAsync("app.acme.test", [AcmeChallengeResponder.AcmeTls1]);
        var random = new Random(19);
        for (var length = 0; length < hello.Length; length++)
        {
            _ = ClientHelloAlpn.OffersAcmeTls(hello.AsSpan(0, length));
        }
        for (var i = 0; i < 2000; i++)
        {
            var copy = (byte[])hello.Clone();
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
            _ = ClientHelloAlpn.OffersAcmeTls(copy);
        }
    }

    [Fact]
    public void A_JWS_carries_the_JWK_or_the_kid_and_verifies_with_the_account_key()
    {
        using var key = AcmeAccountKey.Create();

        var withJwk = JsonDocument.Parse(key.Sign("https://ca.test/new-acct", "nonce-1", null, "{\"termsOfServiceAgreed\":true}")).RootElement;
        var withKid = JsonDocument.Parse(key.Sign("https://ca.test/order/1", "nonce-2", "https://ca.test/acct/7", null)).RootElement;

        var header = JsonDocument.Parse(AcmeBase64Url.Decode(withJwk.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("nonce-1", header.GetProperty("nonce").GetString());
        Assert.Equal("https://ca.test/new-acct", header.GetProperty("url").GetString());
        Assert.Equal(key.X, header.GetProperty("jwk").GetProperty("x").GetString());
        Assert.False(header.TryGetProperty("kid", out _));
        var kidHeader = JsonDocument.Parse(AcmeBase64Url.Decode(withKid.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("https://ca.test/acct/7", kidHeader.GetProperty("kid").GetString());
        Assert.False(kidHeader.TryGetProperty("jwk", out _));
        Assert.Equal("", withKid.GetProperty("payload").GetString()); // POST-as-GET

        using var verifier = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = AcmeBase64Url.Decode(key.X), Y = AcmeBase64Url.Decode(key.Y) } });
        foreach (var jws in new[] { withJwk, withKid })
        {
            var signed = Encoding.ASCII.GetBytes(jws.GetProperty("protected").GetString() + "." + jws.GetProperty("payload").GetString());
            Assert.True(verifier.VerifyData(signed, AcmeBase64Url.Decode(jws.GetProperty("signature").GetString()!), HashAlgorithmName.SHA256));
        }
    }

    [Fact]
    public void The_thumbprint_is_the_SHA256_of_the_canonical_JWK_and_survives_a_reload_of_the_key()
    {
        using var key = AcmeAccountKey.Create();
        using var again = AcmeAccountKey.FromPem(key.ExportPem());

        Assert.Equal($"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{key.X}\",\"y\":\"{key.Y}\"}}", key.Jwk);
        Assert.Equal(AcmeBase64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(key.Jwk))), key.Thumbprint);
        Assert.Equal(key.Thumbprint, again.Thumbprint);
        Assert.Equal("tok." + key.Thumbprint, key.KeyAuthorization("tok"));
        Assert.DoesNotContain('=', key.Thumbprint);
    }

    [Fact]
    public void The_external_account_binding_is_an_HS256_MAC_over_the_accounts_JWK()
    {
        using var key = AcmeAccountKey.Create();
        var hmac = RandomNumberGenerator.GetBytes(32);

        var eab = JsonDocument.Parse(key.ExternalAccountBinding("https://ca.test/new-acct", "kid-1", AcmeBase64Url.Encode(hmac))).RootElement;

        var header = JsonDocument.Parse(AcmeBase64Url.Decode(eab.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("HS256", header.GetProperty("alg").GetString());
        Assert.Equal("kid-1", header.GetProperty("kid").GetString());
        Assert.Equal(key.Jwk, Encoding.UTF8.GetString(AcmeBase64Url.Decode(eab.GetProperty("payload").GetString()!)));
        var expected = HMACSHA256.HashData(hmac, Encoding.ASCII.GetBytes(eab.GetProperty("protected").GetString() + "." + eab.GetProperty("payload").GetString()));
        Assert.Equal(expected, AcmeBase64Url.Decode(eab.GetProperty("signature").GetString()!));
        var bad = Assert.Throws<AcmeException>(() => key.ExternalAccountBinding("https://ca.test/new-acct", "kid-1", "not/base64url+"));
        Assert.Contains("base64url", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_TLS_ALPN_01_certificate_names_only_the_host_and_holds_the_digest_in_a_critical_acmeIdentifier()
    {
        var certificate = AcmeChallengeResponder.TlsAlpnCertificate("app.acme.test", "token.thumb");

        Assert.Equal(["app.acme.test"], certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        var extension = certificate.Extensions[AcmeChallengeResponder.AcmeIdentifierOid];
        Assert.NotNull(extension);
        Assert.True(extension!.Critical);
        Assert.Equal([0x04, 0x20, .. SHA256.HashData("token.thumb"u8)], extension.RawData);
    }

    [Fact]
    public void HTTP_01_answers_only_a_provisioned_token_and_lets_every_other_request_through()
    {
        var responder = new AcmeChallengeResponder();
        responder.AddHttp("abc_-123", "abc_-123.thumb");

        var answer = AcmeHttpChallenge.TryAnswer("GET /.well-known/acme-challenge/abc_-123 HTTP/1.1\r\nHost: a.test\r\n\r\n"u8, responder);
        Assert.NotNull(answer);
        var text = Encoding.ASCII.GetString(answer!);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nabc_-123.thumb", text, StringComparison.Ordinal);
        Assert.Contains("Content-Length: 14\r\n", text, StringComparison.Ordinal);

        Assert.Null(AcmeHttpChallenge.TryAnswer("GET /.well-known/acme-challenge/other HTTP/1.1\r\n\r\n"u8, responder));
        Assert.Null(AcmeHttpChallenge.TryAnswer("POST /.well-known/acme-challenge/abc_-123 HTTP/1.1\r\n\r\n"u8, responder));
        Assert.Null(AcmeHttpChallenge.TryAnswer("GET /index.html HTTP/1.1\r\n\r\n"u8, responder));
        responder.RemoveHttp("abc_-123");
        Assert.Null(AcmeHttpChallenge.TryAnswer("GET /.well-known/acme-challenge/abc_-123 HTTP/1.1\r\n\r\n"u8, responder));
        Assert.Equal(1, responder.HttpAnswers);
    }

    [Fact]
    public void The_responder_holds_a_bounded_number_of_challenges()
    {
        var responder = new AcmeChallengeResponder();
        for (var i = 0; i < AcmeChallengeResponder.MaxEntries; i++)
        {
            responder.AddHttp("t" + i, "k");
        }
        Assert.Throws<AcmeException>(() => responder.AddHttp("one-more", "k"));
    }

    [Fact]
    public void The_preferred_chain_is_picked_by_its_top_issuer_and_the_default_otherwise()
    {
        var (a, b) = (Chain("Alpha Root"), Chain("Beta Root"));

        Assert.Same(b, AcmeCertificates.PickChain([a, b], "beta"));
        Assert.Same(a, AcmeCertificates.PickChain([a, b], null));
        Assert.Same(a, AcmeCertificates.PickChain([a, b], "Gamma"));
    }

    [Fact]
    public void The_ARI_id_is_the_authority_key_id_and_the_serial_in_base64url()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=a.test", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var leaf = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1), [0x00, 0x87, 0x65, 0x43, 0x21]);

        var ski = ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes;
        Assert.Equal(AcmeBase64Url.Encode(ski.Span) + ".AIdlQyE", AcmeCertificates.AriId(leaf));
    }

    private static string Chain(string rootName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var root = new CertificateRequest("CN=" + rootName, key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return root.ExportCertificatePem() + "\n";
    }
}
