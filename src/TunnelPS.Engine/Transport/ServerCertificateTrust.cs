namespace TunnelPS.Engine.Transport;

/// <summary>Why a client accepted the tunnel server's certificate, or that it did not.</summary>
public enum ServerCertificateTrust
{
    /// <summary>Not accepted (or not seen yet).</summary>
    None,

    /// <summary>The system's roots vouch for it and it is valid for the server's name.</summary>
    System,

    /// <summary>Its SHA-256 thumbprint matches the pinned one (-ServerCertificateThumbprint).</summary>
    Pinned,

    /// <summary>One of this user's own local CAs issued it (a server this user started on this computer).</summary>
    LocalAuthority,

    /// <summary>Accepted without a check (-SkipCertificateCheck).</summary>
    Skipped,
}
