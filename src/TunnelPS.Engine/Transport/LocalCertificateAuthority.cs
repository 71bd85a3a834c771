using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The local certificate authority of one server domain: an ECDSA P-256 CA that users may trust (a browser, curl
/// --cacert), and that issues the server's certificates. Its name constraints limit it to the domain, localhost and
/// the loopback addresses, so trusting it cannot let anyone impersonate another site.
/// </summary>
/// <remarks>
/// One CA per domain (<see cref="CertificateStore"/> keeps it as ca-&lt;domain&gt;.pfx, readable by its owner only), because
/// name constraints are fixed when a CA is made: a CA for localhost vouches for *.localhost and nothing else.
/// </remarks>
internal sealed class LocalCertificateAuthority : IDisposable
{
    /// <summary>How long a new CA is valid.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(3650);

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid NameConstraintsOid = new("2.5.29.30");
    private const int PathLengthZero = 0;

    public LocalCertificateAuthority(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey || certificate.GetECDsaPrivateKey() is not { } key)
        {
            throw new ArgumentException("The CA certificate needs its ECDSA private key.", nameof(certificate));
        }
        key.Dispose();
        Certificate = certificate;
        PublicCertificate = LoadPublic(certificate.RawData);
    }

    /// <summary>The CA certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificate alone (no private key): what users trust and what is sent with the chain.</summary>
    public X509Certificate2 PublicCertificate { get; }

    /// <summary>Creates a new CA for <paramref name="domain"/>, constrained to it, localhost and the loopback addresses.</summary>
    public static LocalCertificateAuthority Create(string domain, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // A random tag in the name: two CAs for the same domain (another user, another machine) never look alike.
        var tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(4));
        var request = new CertificateRequest($"CN=TunnelPS local CA for {domain} ({tag}), O=TunnelPS", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, PathLengthZero, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(NameConstraints(PermittedNames(domain)));
        var notBefore = now.AddDays(-1);
        using var created = request.CreateSelfSigned(notBefore, notBefore + Lifetime);
        return new LocalCertificateAuthority(Usable(created));
    }

    /// <summary>The DNS names the CA of <paramref name="domain"/> may vouch for: the domain and localhost, each with every name under it.</summary>
    public static IReadOnlyList<string> PermittedNames(string domain) =>
        new[] { domain, "localhost" }.Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>
    /// Issues a TLS server certificate for the given names and addresses, with <paramref name="key"/> (so every
    /// certificate issued with the server's key has the same public key pin).
    /// </summary>
    public X509Certificate2 Issue(IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> addresses, ECDsa key, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(key);
        if (dnsNames.Count == 0)
        {
            throw new ArgumentException("A server certificate needs at least one DNS name.", nameof(dnsNames));
        }
        // The subject is the first name; X500DistinguishedNameBuilder escapes whatever it holds.
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(dnsNames[0]);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            names.AddDnsName(name);
        }
        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (notAfter > Certificate.NotAfter)
        {
            notAfter = Certificate.NotAfter;
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        using var issued = request.Create(Certificate, notBefore, notAfter, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Usable(withKey);
    }

    /// <summary>
    /// True when <paramref name="certificate"/> was issued by this CA and its names are within the CA's constraints,
    /// for TLS servers; whether it is valid now is left to the caller (it checks NotAfter itself).
    /// </summary>
    public bool Issued(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(PublicCertificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        try
        {
            return chain.Build(certificate)
                && chain.ChainElements.Count == 2
                && chain.ChainElements[1].Certificate.RawData.AsSpan().SequenceEqual(PublicCertificate.RawData);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    public void Dispose()
    {
        Certificate.Dispose();
        PublicCertificate.Dispose();
    }

    /// <summary>
    /// The name constraints extension (RFC 5280 4.2.1.10), critical: DNS names under the permitted names, and the
    /// loopback addresses 127.0.0.0/8 and ::1. .NET has no builder for it, so it is written with AsnWriter.
    /// </summary>
    internal static X509Extension NameConstraints(IEnumerable<string> permittedDnsNames)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            // permittedSubtrees [0] GeneralSubtrees (implicitly tagged SEQUENCE OF GeneralSubtree).
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                foreach (var name in permittedDnsNames)
                {
                    using (writer.PushSequence())
                    {
                        // base: dNSName [2] IA5String
                        writer.WriteCharacterString(UniversalTagNumber.IA5String, name, new Asn1Tag(TagClass.ContextSpecific, 2));
                    }
                }
                // base: iPAddress [7] OCTET STRING, the address followed by its mask.
                WriteAddressRange(writer, [127, 0, 0, 0, 255, 0, 0, 0]);
                var ipv6 = new byte[32];
                ipv6[15] = 1;
                Array.Fill(ipv6, (byte)0xFF, 16, 16);
                WriteAddressRange(writer, ipv6);
            }
        }
        return new X509Extension(NameConstraintsOid, writer.Encode(), critical: true);
    }

    private static void WriteAddressRange(AsnWriter writer, byte[] addressAndMask)
    {
        using (writer.PushSequence())
        {
            writer.WriteOctetString(addressAndMask, new Asn1Tag(TagClass.ContextSpecific, 7));
        }
    }

    /// <summary>Round-trips through PKCS#12 so the private key is usable by SslStream on every platform (Windows refuses ephemeral keys).</summary>
    internal static X509Certificate2 Usable(X509Certificate2 certificate) =>
        CertificateStore.LoadPfx(certificate.Export(X509ContentType.Pkcs12));

    private static X509Certificate2 LoadPublic(byte[] rawData) =>
#if NET9_0_OR_GREATER
        X509CertificateLoader.LoadCertificate(rawData);
#else
        new(rawData);
#endif
}
