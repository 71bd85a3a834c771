using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Server;

/// <summary>Checks HTTP basic credentials in constant time, accepting any valid encoding of the same user:password.</summary>
internal sealed class BasicAuthentication
{
    private readonly byte[] _expectedHash;

    public BasicAuthentication(string userColonPassword)
    {
        _expectedHash = SHA256.HashData(Encoding.UTF8.GetBytes(userColonPassword));
        Realm = "TunnelPS";
    }

    public string Realm { get; init; }

    /// <summary>True when the Authorization header value carries the expected credentials.</summary>
    public bool IsAuthorized(string? authorization)
    {
        if (authorization is null)
        {
            return false;
        }
        var value = authorization.AsSpan().Trim();
        if (value.Length < 6 || !value[..5].Equals("Basic", StringComparison.OrdinalIgnoreCase) || value[5] != ' ')
        {
            return false;
        }
        var encoded = value[6..].Trim().ToString();
        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            return false;
        }
        // Compare fixed-length hashes so neither the content nor the length leaks through timing.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(decoded), _expectedHash);
    }

    /// <summary>Validates a "user:password" pair requested for a tunnel.</summary>
    public static bool IsValidPair(string pair) => pair.IndexOf(':', StringComparison.Ordinal) > 0;
}
