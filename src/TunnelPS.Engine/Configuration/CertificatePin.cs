using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Reads a server certificate pin as a user gives it (-ServerCertificateThumbprint, server_certificate_thumbprint).
/// The client compares pins with the SHA-256 fingerprint of the server certificate (<see cref="CertificateStore.Thumbprint"/>),
/// so a SHA-1 thumbprint (40 hex digits, what Windows shows as a certificate's Thumbprint) could never match: it is
/// refused with a message that says which fingerprint to give instead.
/// </summary>
public static class CertificatePin
{
    /// <summary>What to do about a pin that is refused.</summary>
    public const string Remedy =
        "Give the server certificate's SHA-256 fingerprint: 64 hex digits, as Get-TunnelServer shows it in CertificateThumbprint (spaces, colons and dashes are ignored).";

    private const int Sha1HexDigits = 40;

    /// <summary>The pin as 64 upper-case hex digits, or null with <paramref name="problem"/> saying what is wrong with it.</summary>
    public static string? TryNormalize(string text, out string problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        var hex = text.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (hex.Length == Sha1HexDigits && hex.All(Uri.IsHexDigit))
        {
            problem = $"'{text}' is a SHA-1 fingerprint (40 hex digits); TunnelPS pins the SHA-256 fingerprint of the server certificate, so this pin could never match";
            return null;
        }
        try
        {
            problem = string.Empty;
            return CertificateStore.NormalizeThumbprint(text);
        }
        catch (TunnelConfigurationException)
        {
            problem = $"'{text}' is not a SHA-256 fingerprint (64 hex digits)";
            return null;
        }
    }

    /// <summary>The pin as 64 upper-case hex digits.</summary>
    /// <param name="what">How the caller names the pin in the error, e.g. "-ServerCertificateThumbprint".</param>
    /// <exception cref="TunnelConfigurationException">The pin is SHA-1 or not a SHA-256 fingerprint.</exception>
    public static string Normalize(string text, string what) =>
        TryNormalize(text, out var problem) ?? throw new TunnelConfigurationException($"{what}: {problem}. {Remedy}");
}
