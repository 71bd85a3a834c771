namespace TunnelPS.Engine.Acme;

/// <summary>Checks ACME options at server start, with errors that say what to change.</summary>
internal static class AcmeValidation
{
    public static void Check(AcmeOptions acme, bool hasCertificate, string domain)
    {
        if (hasCertificate)
        {
            throw new TunnelConfigurationException("-Acme and -Certificate (or -CertificatePath) both say where the server's certificates come from. Give one: -Acme to get them from an ACME CA, or a certificate you obtained.");
        }
        if (!acme.AcceptTermsOfService)
        {
            throw new TunnelConfigurationException($"ACME needs the CA's terms of service accepted: read them (the directory {acme.Directory} links them) and add -AcmeAcceptTermsOfService, as certbot's --agree-tos.");
        }
        if (!acme.Directory.IsAbsoluteUri || (acme.Directory.Scheme != Uri.UriSchemeHttps && acme.Directory.Scheme != Uri.UriSchemeHttp))
        {
            throw new TunnelConfigurationException($"-AcmeDirectory '{acme.Directory}' is not an https:// URL of an ACME directory, such as {AcmeOptions.LetsEncryptProduction}.");
        }
        if (domain == "localhost" || domain.EndsWith(".localhost", StringComparison.Ordinal))
        {
            throw new TunnelConfigurationException($"No public CA issues certificates for '{domain}'. Give -Domain a DNS name of yours (tunnel.example.com) whose wildcard record points at this host, or leave -Acme out.");
        }
        if ((acme.EabKeyId is null) != (acme.EabHmacKey is null))
        {
            throw new TunnelConfigurationException("An external account binding needs both the key id and the HMAC key the CA gave you (-AcmeExternalAccountBinding as a credential: user name = key id, password = HMAC key).");
        }
        if (acme.Challenges.Count == 0)
        {
            throw new TunnelConfigurationException("ACME needs at least one challenge type to answer (tls-alpn-01 or http-01).");
        }
        if (acme.OrderTimeout <= TimeSpan.Zero || acme.ScanInterval <= TimeSpan.Zero || acme.RetryDelay <= TimeSpan.Zero || acme.MaxRetryDelay < acme.RetryDelay || acme.RenewAfterFraction is <= 0 or >= 1)
        {
            throw new TunnelConfigurationException("The ACME order timeout and retry delays must be positive (the longest retry delay not below the first), and the renewal point a fraction between 0 and 1 of the lifetime.");
        }
    }
}
