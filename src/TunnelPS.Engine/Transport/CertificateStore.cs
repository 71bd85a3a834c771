using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Creates, persists and fingerprints the server's TLS certificates: the default ones (a local CA per domain and the
/// server certificate it issues, kept in ~/.tunnelps) and those users give as files.
/// </summary>
public static class CertificateStore
{
    // Threads of this process take turns here; other processes through the lock file.
    private static readonly object s_folderGate = new();

    /// <summary>The per-user folder where TunnelPS keeps its files (~/.tunnelps).</summary>
    public static string UserFolder =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify), ".tunnelps");

    /// <summary>The SHA-256 fingerprint of a certificate as 64 uppercase hex characters.</summary>
    public static string Thumbprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));
    }

    /// <summary>Normalises a thumbprint typed by a user: removes spaces and colons, uppercases, checks it is SHA-256 hex.</summary>
    public static string NormalizeThumbprint(string thumbprint)
    {
        ArgumentNullException.ThrowIfNull(thumbprint);
        var cleaned = thumbprint.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToUpperInvariant();
        if (cleaned.Length != 64 || !cleaned.All(Uri.IsHexDigit))
        {
            throw new TunnelConfigurationException(
                $"'{thumbprint}' is not a SHA-256 certificate thumbprint. Give the 64 hex characters shown in the server's CertificateThumbprint.");
        }
        return cleaned;
    }

    /// <summary>
    /// The SPKI pin of a certificate in curl's --pinnedpubkey form: "sha256//" and the base64 SHA-256 of its
    /// SubjectPublicKeyInfo. Unlike the fingerprint it stays the same when the certificate is renewed with the same key.
    /// </summary>
    public static string SpkiPin(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return "sha256//" + Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>
    /// The local CA certificate of <paramref name="domain"/> (no private key): what a browser or curl --cacert trusts
    /// for the servers of that domain that use the default certificates. Creates the CA in <paramref name="folder"/>
    /// (default ~/.tunnelps) when there is none yet.
    /// </summary>
    public static X509Certificate2 LoadOrCreateAuthorityCertificate(string domain, string? folder = null)
    {
        domain = NormalizeDomain(domain);
        folder ??= UserFolder;
        lock (s_folderGate)
        {
            CreatePrivateFolder(folder);
            using var folderLock = LockFolder(folder);
            using var authority = LoadOrCreateAuthority(domain, folder, DateTimeOffset.UtcNow);
            return LoadPublic(authority.PublicCertificate.RawData);
        }
    }

    /// <summary>
    /// Loads or creates the default certificates of <paramref name="domain"/> in <paramref name="folder"/> (default
    /// ~/.tunnelps), each file readable only by the current user: the local CA (ca-&lt;domain&gt;.pfx, valid 10 years)
    /// and the server certificate it issued (server-&lt;domain&gt;.pfx: the domain, its wildcard, localhost and the
    /// loopback addresses; valid 10 years, so the fingerprint clients pin stays put). A server certificate the CA did
    /// not issue (the self-signed one of earlier versions) or that ends within 7 days is issued again with the same
    /// key, so its public key pin does not change. Processes that start servers at once take turns (a lock file).
    /// </summary>
    internal static (X509Certificate2 Certificate, LocalCertificateAuthority Authority) LoadOrCreateDefault(string domain, string? folder = null, DateTimeOffset? now = null)
    {
        domain = NormalizeDomain(domain);
        folder ??= UserFolder;
        var when = now ?? DateTimeOffset.UtcNow;
        lock (s_folderGate)
        {
            CreatePrivateFolder(folder);
            using var folderLock = LockFolder(folder);
            return LoadOrCreateDefaultLocked(domain, folder, when);
        }
    }

    private static (X509Certificate2 Certificate, LocalCertificateAuthority Authority) LoadOrCreateDefaultLocked(string domain, string folder, DateTimeOffset when)
    {
        var authority = LoadOrCreateAuthority(domain, folder, when);
        var path = Path.Combine(folder, $"server-{SafeFileName(domain)}.pfx");
        X509Certificate2? existing = null;
        if (File.Exists(path))
        {
            try
            {
                existing = LoadPfx(File.ReadAllBytes(path));
            }
            catch (CryptographicException)
            {
                // An unreadable file is replaced below.
            }
        }
        if (existing is not null && authority.Issued(existing) && existing.NotAfter.ToUniversalTime() > when.AddDays(7).UtcDateTime)
        {
            return (existing, authority);
        }
        using var reusedKey = existing?.GetECDsaPrivateKey();
        using var key = reusedKey is { KeySize: 256 } ? null : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        existing?.Dispose();
        var names = new[] { domain, "*." + domain, "localhost", "*.localhost" }.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var created = authority.Issue(names, [IPAddress.Loopback, IPAddress.IPv6Loopback], key ?? reusedKey!, when.AddDays(-1), when.AddDays(-1) + LocalCertificateAuthority.Lifetime);
        WritePrivateFile(path, created.Export(X509ContentType.Pkcs12));
        return (created, authority);
    }

    /// <summary>Loads the CA of the domain, or creates one when there is none (or it ends within 30 days); the caller holds the folder lock.</summary>
    private static LocalCertificateAuthority LoadOrCreateAuthority(string domain, string folder, DateTimeOffset now)
    {
        var path = Path.Combine(folder, $"ca-{SafeFileName(domain)}.pfx");
        if (File.Exists(path))
        {
            try
            {
                var existing = LoadPfx(File.ReadAllBytes(path));
                if (existing.NotAfter.ToUniversalTime() > now.AddDays(30).UtcDateTime && existing.HasPrivateKey)
                {
                    return new LocalCertificateAuthority(existing);
                }
                existing.Dispose();
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                // An unreadable CA is replaced below: the certificates it issued are issued again.
            }
        }
        var created = LocalCertificateAuthority.Create(domain, now);
        WritePrivateFile(path, created.Certificate.Export(X509ContentType.Pkcs12));
        return created;
    }

    private static string NormalizeDomain(string domain)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        return domain.Trim().TrimEnd('.').ToLowerInvariant();
    }

    private static string SafeFileName(string domain) =>
        string.Concat(domain.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_'));

    /// <summary>Creates the folder (the current user's alone when it is new).</summary>
    private static void CreatePrivateFolder(string folder) => PrivateFiles.CreateFolder(folder);

    /// <summary>Writes a file that holds a private key: readable by the current user only (mode 600 on Unix), replaced atomically.</summary>
    private static void WritePrivateFile(string path, byte[] bytes)
    {
        var temp = path + "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp";
        using (var stream = new FileStream(temp, PrivateFiles.Options(FileMode.Create, FileAccess.Write)))
        {
            stream.Write(bytes);
        }
        File.Move(temp, path, overwrite: true);
        PrivateFiles.Restrict(path);
    }

    /// <summary>
    /// An exclusive lock on the folder's certificates, so two processes starting servers at once do not each create a
    /// CA. Waits up to 10 s for another process that holds it.
    /// </summary>
    private static FileStream LockFolder(string folder)
    {
        var path = Path.Combine(folder, ".certificates.lock");
        var options = PrivateFiles.Options(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            try
            {
                return new FileStream(path, options);
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                Thread.Sleep(25);
            }
        }
    }

    /// <summary>Creates a self-signed ECDSA P-256 certificate for the domain, *.domain, localhost, *.localhost, 127.0.0.1 and ::1.</summary>
    public static X509Certificate2 CreateSelfSigned(string domain, TimeSpan? lifetime = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={domain}, O=TunnelPS self-signed", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in new[] { domain, "*." + domain, "localhost", "*.localhost" }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            names.AddDnsName(name);
        }
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        using var ephemeral = request.CreateSelfSigned(notBefore, notBefore + (lifetime ?? TimeSpan.FromDays(3650)));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform (Windows refuses ephemeral keys).
        return LoadPfx(ephemeral.Export(X509ContentType.Pkcs12));
    }

    /// <summary>Loads a certificate with its private key from a PFX/PKCS#12 file or a PEM certificate plus key.</summary>
    public static X509Certificate2 LoadFromFile(string path, string? password = null)
    {
        if (!File.Exists(path))
        {
            throw new TunnelConfigurationException($"The certificate file '{path}' does not exist. Give a .pfx, or a .pem holding the certificate and its private key.", TunnelErrorKind.NotFound);
        }
        try
        {
            var extension = Path.GetExtension(path);
            X509Certificate2 certificate;
            if (extension.Equals(".pem", StringComparison.OrdinalIgnoreCase) || extension.Equals(".crt", StringComparison.OrdinalIgnoreCase))
            {
                var keyPath = Path.ChangeExtension(path, ".key");
                certificate = File.Exists(keyPath)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromPemFile(path);
                certificate = LoadPfx(certificate.Export(X509ContentType.Pkcs12));
            }
            else
            {
                certificate = LoadPfx(File.ReadAllBytes(path), password);
            }
            if (!certificate.HasPrivateKey)
            {
                throw new TunnelConfigurationException($"The certificate in '{path}' has no private key; the server needs one to serve TLS.");
            }
            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new TunnelConfigurationException($"The certificate file '{path}' could not be read: {ex.Message}", ex);
        }
    }

    internal static X509Certificate2 LoadPfx(byte[] data, string? password = null) =>
#if NET9_0_OR_GREATER
        X509CertificateLoader.LoadPkcs12(data, password, X509KeyStorageFlags.Exportable);
#else
        new(data, password, X509KeyStorageFlags.Exportable);
#endif

    internal static X509Certificate2 LoadPublic(byte[] rawData) =>
#if NET9_0_OR_GREATER
        X509CertificateLoader.LoadCertificate(rawData);
#else
        new(rawData);
#endif
}
