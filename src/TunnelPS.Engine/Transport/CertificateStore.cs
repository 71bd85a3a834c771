using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>Creates, persists and fingerprints the server's TLS certificates.</summary>
public static class CertificateStore
{
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
    /// Loads the default self-signed certificate for <paramref name="domain"/> from <paramref name="folder"/>, or creates
    /// it (valid for the domain, its wildcard, localhost and the loopback addresses) and saves it there, readable only by
    /// the current user.
    /// </summary>
    public static X509Certificate2 LoadOrCreateDefault(string domain, string? folder = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        folder ??= UserFolder;
        var safeName = string.Concat(domain.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_'));
        var path = Path.Combine(folder, $"server-{safeName}.pfx");
        if (File.Exists(path))
        {
            try
            {
                var existing = LoadPfx(File.ReadAllBytes(path));
                if (existing.NotAfter > DateTime.Now.AddDays(7))
                {
                    return existing;
                }
                existing.Dispose();
            }
            catch (CryptographicException)
            {
                // An unreadable file is replaced below.
            }
        }
        var created = CreateSelfSigned(domain);
        Directory.CreateDirectory(folder);
        var bytes = created.Export(X509ContentType.Pkcs12);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temp, options))
        {
            stream.Write(bytes);
        }
        File.Move(temp, path, overwrite: true);
        return created;
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

    private static X509Certificate2 LoadPfx(byte[] data, string? password = null) =>
#if NET9_0_OR_GREATER
        X509CertificateLoader.LoadPkcs12(data, password, X509KeyStorageFlags.Exportable);
#else
        new(data, password, X509KeyStorageFlags.Exportable);
#endif
}
