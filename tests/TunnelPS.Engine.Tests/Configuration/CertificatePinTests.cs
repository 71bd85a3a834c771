using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

public sealed class CertificatePinTests
{
    private const string Sha256 = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789";

    [Theory]
    [InlineData(Sha256)]
    [InlineData("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    [InlineData("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")]
    [InlineData("ABCDEF01 23456789 ABCDEF01 23456789 ABCDEF01 23456789 ABCDEF01 23456789")]
    public void A_SHA256_fingerprint_is_normalised_to_upper_case_hex(string pin)
    {
        Assert.Equal(Sha256, CertificatePin.Normalize(pin, "-ServerCertificateThumbprint"));
    }

    [Theory]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    [InlineData("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01")]
    public void A_SHA1_thumbprint_is_refused_with_what_to_give_instead(string pin)
    {
        var ex = Assert.Throws<TunnelConfigurationException>(() => CertificatePin.Normalize(pin, "-ServerCertificateThumbprint"));

        Assert.Equal(
            $"-ServerCertificateThumbprint: '{pin}' is a SHA-1 fingerprint (40 hex digits); TunnelPS pins the SHA-256 fingerprint of the server certificate, so this pin could never match. "
            + "Give the server certificate's SHA-256 fingerprint: 64 hex digits, as Get-TunnelServer shows it in CertificateThumbprint (spaces, colons and dashes are ignored).",
            ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0")]
    [InlineData("ZZCDEF0123456789ABCDEF0123456789ABCDEF01")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF012345678")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01234567890")]
    public void Anything_else_is_not_a_SHA256_fingerprint(string pin)
    {
        Assert.Null(CertificatePin.TryNormalize(pin, out var problem));
        Assert.Equal($"'{pin}' is not a SHA-256 fingerprint (64 hex digits)", problem);
    }
}
