using System.Buffers;
using System.Buffers.Text;
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
    }

    /// <summary>True when the Authorization header value carries the expected credentials.</summary>
    public bool IsAuthorized(string? authorization) =>
        authorization is not null && authorization.Length <= MaxHeaderLength && IsAuthorized(Encoding.Latin1.GetBytes(authorization));

    /// <summary>True when the Authorization header value (its bytes, as they arrived) carries the expected credentials.</summary>
    public bool IsAuthorized(ReadOnlySpan<byte> authorization)
    {
        var value = authorization.Trim(" \t"u8);
        if (value.Length < 6 || value.Length > MaxHeaderLength || !Ascii.EqualsIgnoreCase(value[..5], "Basic"u8) || value[5] != (byte)' ')
        {
            return false;
        }
        var encoded = value[6..].Trim(" \t"u8);
        Span<byte> decoded = stackalloc byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (Base64.DecodeFromUtf8(encoded, decoded, out var consumed, out var written) != OperationStatus.Done || consumed != encoded.Length)
        {
            return false;
        }
        // Compare fixed-length hashes so neither the content nor the length leaks through timing.
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(decoded[..written], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _expectedHash);
    }

    /// <summary>The longest Authorization value looked at (a longer one is refused).</summary>
    private const int MaxHeaderLength = 4096;

    /// <summary>Validates a "user:password" pair requested for a tunnel.</summary>
    public static bool IsValidPair(string pair) => pair.IndexOf(':', StringComparison.Ordinal) > 0;
}
