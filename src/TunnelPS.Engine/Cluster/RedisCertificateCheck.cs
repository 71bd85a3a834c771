using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// Checks the Redis server's TLS certificate for rediss://: against the CA file given (RedisCaFile), or the host's own
/// store without one; the name must match the address either way. Remembers why a certificate was refused, so that a
/// node that cannot connect says so instead of "cannot be reached".
/// </summary>
internal sealed class RedisCertificateCheck
{
    private readonly X509Certificate2Collection? _authorities;
    private readonly string? _caFile;
    private volatile string? _problem;

    /// <summary>Reads the CA file; throws <see cref="TunnelConfigurationException"/> when it cannot be read or holds no certificate.</summary>
    public RedisCertificateCheck(string? caFile)
    {
        _caFile = caFile;
        if (caFile is null)
        {
            return;
        }
        _authorities = [];
        try
        {
            _authorities.ImportFromPemFile(caFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new TunnelConfigurationException($"The Redis CA file '{caFile}' cannot be read: {ex.Message} Give a PEM file with the certificate of the CA that signed the Redis server's certificate.");
        }
        if (_authorities.Count == 0)
        {
            throw new TunnelConfigurationException($"The Redis CA file '{caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----). Give the certificate of the CA that signed the Redis server's certificate.");
        }
    }

    /// <summary>Why the last certificate was refused, or null.</summary>
    public string? Problem => _problem;

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        _problem = Check(certificate, errors);
        return _problem is null;
    }

    private string? Check(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return "the server sent no certificate";
        }
        var subject = certificate.Subject;
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return $"its certificate ({subject}) does not name the host given in -Cluster";
        }
        if (_authorities is null)
        {
            return errors == SslPolicyErrors.None
                ? null
                : $"its certificate ({subject}) is not trusted by this host ({errors}); give the CA that signed it with -ClusterCaFile";
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        if (chain.Build(leaf))
        {
            return null;
        }
        var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"its certificate ({subject}) is not signed by a CA in '{_caFile}' ({status}); give the CA that signed it with -ClusterCaFile";
    }
}
