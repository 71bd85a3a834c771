using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>
/// The short, non-reversible name of a session shown in logs and on objects. A ClientId is a secret (it identifies a
/// session to the server), so it is never shown; its label is the first 8 hex digits of its SHA-256.
/// </summary>
internal static class SessionLabel
{
    /// <summary>The label of a ClientId ("" for none).</summary>
    public static string Of(string? clientId)
    {
        if (string.IsNullOrEmpty(clientId))
        {
            return "";
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(clientId), hash);
        return Convert.ToHexString(hash[..4]).ToLowerInvariant();
    }
}
