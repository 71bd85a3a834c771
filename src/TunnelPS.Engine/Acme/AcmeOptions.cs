using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Acme;

/// <summary>Which ACME challenge proves control of a name (RFC 8555 section 8, RFC 8737).</summary>
public enum AcmeChallengeType
{
    /// <summary>TLS-ALPN-01 on the server's TLS port (the ACME server connects with ALPN acme-tls/1).</summary>
    TlsAlpn01,

    /// <summary>HTTP-01 on the server's plain HTTP port (/.well-known/acme-challenge/&lt;token&gt;).</summary>
    Http01,
}

/// <summary>How the server gets public certificates from an ACME directory for the names its tunnels hold.</summary>
public sealed record AcmeOptions
{
    /// <summary>Let's Encrypt's production directory: the default.</summary>
    public static readonly Uri LetsEncryptProduction = new("https://acme-v02.api.letsencrypt.org/directory");

    /// <summary>Let's Encrypt's staging directory: untrusted certificates with generous rate limits, for trying things out.</summary>
    public static readonly Uri LetsEncryptStaging = new("https://acme-staging-v02.api.letsencrypt.org/directory");

    /// <summary>The ACME directory URL.</summary>
    public Uri Directory { get; init; } = LetsEncryptProduction;

    /// <summary>The account's contact address (optional; CAs mail expiry warnings there).</summary>
    public string? Email { get; init; }

    /// <summary>The directory's terms of service are accepted; ordering refuses to start without it.</summary>
    public bool AcceptTermsOfService { get; init; }

    /// <summary>An extra root trusted for the directory's own HTTPS (a test or private CA), besides the system's roots.</summary>
    public X509Certificate2? DirectoryRoot { get; init; }

    /// <summary>External account binding key id (RFC 8555 7.3.4), for CAs that need one; with <see cref="EabHmacKey"/>.</summary>
    public string? EabKeyId { get; init; }

    /// <summary>External account binding HMAC key, base64url as the CA gives it.</summary>
    public string? EabHmacKey { get; init; }

    /// <summary>The challenge types tried, in order of preference (the first the directory offers for a name is used).</summary>
    public IReadOnlyList<AcmeChallengeType> Challenges { get; init; } = [AcmeChallengeType.TlsAlpn01, AcmeChallengeType.Http01];

    /// <summary>Where the account key and the certificates are kept; null: acme/&lt;directory host&gt; under the server's certificate folder.</summary>
    public string? StateFolder { get; init; }

    /// <summary>
    /// Answers DNS-01: with one, the server orders a wildcard certificate for *.&lt;Domain&gt; at start (one order covers
    /// every random subdomain), and names one label under the domain get no order of their own.
    /// </summary>
    public IAcmeDnsProvider? DnsProvider { get; init; }

    /// <summary>Of the chains the directory offers (Link rel="alternate"), the one whose top issuer contains this text; null: the default chain.</summary>
    public string? PreferredChain { get; init; }

    /// <summary>How long one order may take from newOrder to the certificate download.</summary>
    public TimeSpan OrderTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The first retry of a failed order waits this long; each further failure doubles it up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest wait between retries of a failing order.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(6);

    /// <summary>How often the order loop looks for renewals and retries that have come due when nothing wakes it.</summary>
    public TimeSpan ScanInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A certificate is renewed once this share of its lifetime has passed (2/3, as Let's Encrypt and certbot advise).</summary>
    public double RenewAfterFraction { get; init; } = 2.0 / 3.0;
}
