namespace TunnelPS.Engine.Configuration;

/// <summary>
/// The <c>acme:</c> section of a server config file: its presence turns ACME on (as -Acme does). Values are as written;
/// null means absent.
/// </summary>
public sealed record ServerAcmeConfig
{
    /// <summary><c>directory</c>: the ACME directory URL (-AcmeDirectory).</summary>
    public Uri? Directory { get; init; }

    /// <summary><c>email</c>: the account's contact address (-AcmeEmail).</summary>
    public string? Email { get; init; }

    /// <summary><c>accept_terms_of_service</c>: true accepts the CA's terms (-AcmeAcceptTermsOfService).</summary>
    public bool? AcceptTermsOfService { get; init; }

    /// <summary><c>root_certificate</c>: a PEM file trusted for the directory's own HTTPS (-AcmeRootCertificate), relative to the file.</summary>
    public string? RootCertificate { get; init; }

    /// <summary><c>eab_key_id</c>: the external account binding's key id.</summary>
    public string? EabKeyId { get; init; }

    /// <summary><c>eab_hmac_key_name</c>: the SecretManagement secret holding the external account binding's HMAC key.</summary>
    public string? EabHmacKeyName { get; init; }

    /// <summary><c>challenges</c>: the challenge types in order of preference (tls-alpn-01, http-01).</summary>
    public IReadOnlyList<string>? Challenges { get; init; }

    /// <summary><c>dns_server</c>: the DNS server (host:port) taking RFC 2136 updates for the wildcard's DNS-01 record.</summary>
    public string? DnsServer { get; init; }

    /// <summary><c>dns_zone</c>: the zone it updates (default: the domain).</summary>
    public string? DnsZone { get; init; }

    /// <summary><c>dns_key_name</c>: the TSIG key's name.</summary>
    public string? DnsKeyName { get; init; }

    /// <summary><c>dns_key_secret_name</c>: the SecretManagement secret holding the TSIG key's secret.</summary>
    public string? DnsKeySecretName { get; init; }

    /// <summary><c>preferred_chain</c>: the top issuer's name of the chain to serve, of those the CA offers.</summary>
    public string? PreferredChain { get; init; }
}
