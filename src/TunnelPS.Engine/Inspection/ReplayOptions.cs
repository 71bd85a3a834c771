using System.Net.Security;

namespace TunnelPS.Engine.Inspection;

/// <summary>How to modify a request when replaying it, and how to connect.</summary>
public sealed class ReplayOptions
{
    /// <summary>Replaces the method.</summary>
    public string? Method { get; init; }

    /// <summary>Replaces the request target (path and query, e.g. "/api/items?id=3").</summary>
    public string? Target { get; init; }

    /// <summary>Headers to set (each replaces every field of that name).</summary>
    public IReadOnlyDictionary<string, string>? SetHeaders { get; init; }

    /// <summary>Headers to remove.</summary>
    public IReadOnlyCollection<string>? RemoveHeaders { get; init; }

    /// <summary>Replaces the body; Content-Length is set to match.</summary>
    public ReadOnlyMemory<byte>? Body { get; init; }

    /// <summary>Keep the captured Host header instead of setting it to the target's authority.</summary>
    public bool KeepOriginalHost { get; init; }

    /// <summary>The limit for connecting, sending and receiving the whole response. Default 30 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>For https targets: validates the server certificate (default: the platform's validation).</summary>
    public RemoteCertificateValidationCallback? CertificateValidation { get; init; }
}
