using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The client's check of the tunnel server's certificate (a pin, the system's roots, or the user's own local CA) as a
/// TLS validation callback, with what it saw, so that a refusal can say which certificate came and what to do. One
/// per handshake: the dialer and the connectivity probe share it.
/// </summary>
internal sealed class ServerCertificateCheck(ServerTrust trust, bool keepCertificate = false)
{
    public ServerTrust Trust => trust;

    /// <summary>The SHA-256 thumbprint of the certificate the server sent; null before the callback ran.</summary>
    public string? Thumbprint { get; private set; }

    public string? Subject { get; private set; }

    /// <summary>What the platform found wrong with the certificate (name, chain), before the pin or local CA decided.</summary>
    public SslPolicyErrors Errors { get; private set; }

    /// <summary>Why the certificate was accepted; <see cref="ServerCertificateTrust.None"/> when it was not.</summary>
    public ServerCertificateTrust Outcome { get; private set; }

    /// <summary>A copy of the server's certificate, with keepCertificate only (the probe shows it); the caller disposes it.</summary>
    public X509Certificate2? Certificate { get; private set; }

    /// <summary>The validation callback for <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/>.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }
        Thumbprint = CertificateStore.Thumbprint(certificate);
        Subject = certificate.Subject;
        Errors = errors;
        if (keepCertificate)
        {
            Certificate?.Dispose();
            Certificate = new X509Certificate2(certificate);
        }
        Outcome = Decide(certificate, errors);
        return Outcome != ServerCertificateTrust.None;
    }

    private ServerCertificateTrust Decide(X509Certificate certificate, SslPolicyErrors errors)
    {
        if (trust.SkipCertificateCheck)
        {
            return ServerCertificateTrust.Skipped;
        }
        if (trust.PinnedThumbprint is { } pinned)
        {
            return string.Equals(pinned, Thumbprint, StringComparison.OrdinalIgnoreCase) ? ServerCertificateTrust.Pinned : ServerCertificateTrust.None;
        }
        if (errors == SslPolicyErrors.None)
        {
            return ServerCertificateTrust.System;
        }
        // Only the chain may fail for the local CA to vouch instead: a wrong name is never forgiven.
        return errors == SslPolicyErrors.RemoteCertificateChainErrors && trust.TrustLocalAuthorities && LocalAuthorityTrust.Issued(certificate, trust.LocalAuthorityFolder)
            ? ServerCertificateTrust.LocalAuthority
            : ServerCertificateTrust.None;
    }

    /// <summary>Why the certificate was refused, in a few words: "does not match the pinned thumbprint …".</summary>
    public string RefusalReason => trust.PinnedThumbprint is not null
        ? $"does not match the pinned thumbprint {trust.PinnedThumbprint}"
        : $"is not trusted ({Errors})";

    /// <summary>What to do about a refused certificate: pin it, trust its CA, or skip the check for a test.</summary>
    public string RefusalAdvice
    {
        get
        {
            var local = trust.PinnedThumbprint is null && trust.TrustLocalAuthorities && Errors == SslPolicyErrors.RemoteCertificateChainErrors
                ? "Neither the system nor your own local CA (the servers you start on this computer) vouches for it: it is another user's or another host's server, or one with a certificate of its own. "
                : "";
            return $"{local}If you trust this server, pin it with -ServerCertificateThumbprint {Thumbprint} (its CertificateThumbprint in Get-TunnelServer where it runs), " +
                "trust its CA (Export-TunnelCertificate where it runs, then your system's trust store), or use -SkipCertificateCheck for a test.";
        }
    }

    /// <summary>The error for a handshake this check refused (only when <see cref="Thumbprint"/> is set).</summary>
    public TunnelConnectionException Refusal(ServerAddress server, Exception inner) => new(
        string.Create(CultureInfo.InvariantCulture, $"The certificate of the tunnel server {server} {RefusalReason}: SHA-256 thumbprint {Thumbprint}, subject '{Subject}'. {RefusalAdvice}"),
        inner, TunnelErrorKind.Authentication);
}
