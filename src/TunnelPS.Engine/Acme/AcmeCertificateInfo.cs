namespace TunnelPS.Engine.Acme;

/// <summary>Where a name's ACME certificate stands.</summary>
public enum AcmeCertificateStatus
{
    /// <summary>Ordered (or about to be) and not issued yet: the name is served with the local CA's certificate meanwhile.</summary>
    Pending,

    /// <summary>Issued and served.</summary>
    Valid,

    /// <summary>Due for renewal and being renewed; the current certificate is served meanwhile.</summary>
    Renewing,

    /// <summary>The last order failed (see the detail); a certificate issued before is still served, and the order is retried with back-off.</summary>
    Failed,
}

/// <summary>One ACME certificate of a server, as Get-TunnelServer shows it.</summary>
/// <param name="Names">The names it covers.</param>
/// <param name="Issuer">The issuer of the certificate served now (null before the first issuance).</param>
/// <param name="NotAfter">When the certificate served now expires (null before the first issuance).</param>
/// <param name="Status">Where it stands.</param>
/// <param name="Detail">Why it is Pending or Failed (the ACME problem document's detail for a failed order); null when Valid.</param>
/// <param name="RenewAt">When it is renewed (two thirds of its lifetime, or the CA's ARI window); null before the first issuance.</param>
/// <param name="NextAttempt">When a failed order is retried; null unless Failed.</param>
public sealed record AcmeCertificateInfo(
    IReadOnlyList<string> Names,
    string? Issuer,
    DateTimeOffset? NotAfter,
    AcmeCertificateStatus Status,
    string? Detail,
    DateTimeOffset? RenewAt,
    DateTimeOffset? NextAttempt);
