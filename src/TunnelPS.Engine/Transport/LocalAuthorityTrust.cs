using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Trust in the certificates that the current user's own local CAs issued (the ca-&lt;domain&gt;.pfx files that
/// <see cref="CertificateStore"/> keeps in ~/.tunnelps, readable by their owner only): a tunnel server this user
/// started on this computer, in any PowerShell window, is trusted by a client of the same user without a pin. The
/// chain must end at one of those CAs, be valid now and be meant for servers; the name is checked by TLS as for any
/// certificate. Another user's or another host's server has another CA and is not trusted this way.
/// </summary>
internal static class LocalAuthorityTrust
{
    private static readonly Oid s_serverAuthentication = new("1.3.6.1.5.5.7.3.1");

    // The public certificates of the CA files, by path, with the time the file was written (a renewed CA is read again).
    private static readonly ConcurrentDictionary<string, (DateTime Written, X509Certificate2? Authority)> s_authorities = new(StringComparer.Ordinal);

    /// <summary>True when one of the local CAs in <paramref name="folder"/> (null: ~/.tunnelps) issued <paramref name="certificate"/> and it is valid now.</summary>
    public static bool Issued(X509Certificate certificate, string? folder)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var authorities = Load(folder ?? CertificateStore.UserFolder);
        if (authorities.Count == 0)
        {
            return false;
        }
        using var leaf = CertificateStore.LoadPublic(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities.ToArray());
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(s_serverAuthentication);
        try
        {
            return chain.Build(leaf);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    private static List<X509Certificate2> Load(string folder)
    {
        var found = new List<X509Certificate2>();
        string[] files;
        try
        {
            files = Directory.Exists(folder) ? Directory.GetFiles(folder, "ca-*.pfx") : [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return found; // No folder of this user's to read: nothing is trusted this way.
        }
        foreach (var path in files)
        {
            DateTime written;
            try
            {
                written = File.GetLastWriteTimeUtc(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            var entry = s_authorities.GetOrAdd(path, static _ => (DateTime.MinValue, null));
            if (entry.Written != written)
            {
                entry = (written, ReadAuthority(path));
                s_authorities[path] = entry;
            }
            if (entry.Authority is { } authority)
            {
                found.Add(authority);
            }
        }
        return found;
    }

    /// <summary>The public part of a CA file, or null for a file that is not a readable CA (it is then not trusted).</summary>
    private static X509Certificate2? ReadAuthority(string path)
    {
        try
        {
            using var withKey = CertificateStore.LoadPfx(File.ReadAllBytes(path));
            var isAuthority = withKey.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
            return isAuthority ? CertificateStore.LoadPublic(withKey.RawData) : null;
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
