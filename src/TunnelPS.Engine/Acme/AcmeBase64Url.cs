namespace TunnelPS.Engine.Acme;

/// <summary>base64url without padding (RFC 4648 section 5), as JOSE and ACME use it (System.Buffers.Text.Base64Url is .NET 9+).</summary>
internal static class AcmeBase64Url
{
    public static string Encode(ReadOnlySpan<byte> data) =>
        Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <exception cref="FormatException">The text is not base64url.</exception>
    public static byte[] Decode(string text)
    {
        if (text.Contains('+', StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal))
        {
            throw new FormatException("'+' and '/' are not base64url characters.");
        }
        var s = text.Trim().TrimEnd('=').Replace('-', '+').Replace('_', '/');
        s = (s.Length % 4) switch { 2 => s + "==", 3 => s + "=", 1 => throw new FormatException("The base64url text has a stray character."), _ => s };
        return Convert.FromBase64String(s);
    }

    /// <summary>A JSON string literal (quoted, escaped) of <paramref name="value"/>.</summary>
    public static string Json(string value) => "\"" + System.Text.Json.JsonEncodedText.Encode(value).ToString() + "\"";
}
