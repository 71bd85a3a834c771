using TunnelPS.Engine;
using TunnelPS.Engine.Acme;

namespace TunnelPS;

/// <summary>Where an ACME certificate of a server stands.</summary>
public enum TunnelCertificateStatus
{
    /// <summary>Ordered and not issued yet: the name is served with the local CA's certificate meanwhile.</summary>
    Pending,

    /// <summary>Issued and served.</summary>
    Valid,

    /// <summary>Being renewed; the current certificate is served meanwhile.</summary>
    Renewing,

    /// <summary>The last order failed (see Detail); a certificate issued before is still served, and the order is retried.</summary>
    Failed,
}

/// <summary>
/// One certificate a server got (or is getting) from its ACME CA (Get-TunnelServer's Certificates). The issuer and the
/// detail come from the CA: their control characters are shown visibly.
/// </summary>
public sealed class TunnelServerCertificate
{
    internal TunnelServerCertificate(AcmeCertificateInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        Names = [.. info.Names];
        Issuer = info.Issuer is null ? null : TerminalText.Line(info.Issuer);
        NotAfter = info.NotAfter;
        Status = (TunnelCertificateStatus)(int)info.Status;
        Detail = info.Detail is null ? null : TerminalText.Line(info.Detail);
        RenewAt = info.RenewAt;
        NextAttempt = info.NextAttempt;
    }

    /// <summary>The names the certificate covers.</summary>
    public string[] Names { get; }

    /// <summary>Who issued the certificate served now; null before the first issuance.</summary>
    public string? Issuer { get; }

    /// <summary>When the certificate served now expires; null before the first issuance.</summary>
    public DateTimeOffset? NotAfter { get; }

    /// <summary>Pending, Valid, Renewing or Failed.</summary>
    public TunnelCertificateStatus Status { get; }

    /// <summary>Why it is Pending or Failed (the ACME problem's detail for a failed order).</summary>
    public string? Detail { get; }

    /// <summary>When it is renewed (two thirds of its lifetime, or the CA's renewal window).</summary>
    public DateTimeOffset? RenewAt { get; }

    /// <summary>When a failed order is tried again.</summary>
    public DateTimeOffset? NextAttempt { get; }

    public override string ToString() => string.Join(",", Names);
}
