using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>The four forms a request target may take (RFC 9112 3.2), or none of them.</summary>
internal enum RequestTargetForm
{
    /// <summary>Not a request target: it does not start with '/', is not an absolute http(s) URL, host:port or '*'.</summary>
    Invalid,

    /// <summary>"/path?query": every method but CONNECT.</summary>
    Origin,

    /// <summary>"http://host[:port]/path?query" (or https): any method but CONNECT; its authority replaces Host.</summary>
    Absolute,

    /// <summary>"host:port": CONNECT only.</summary>
    Authority,

    /// <summary>"*": OPTIONS only.</summary>
    Asterisk,
}

/// <summary>Tells a request target's form and, for an absolute one, where its authority and its path lie.</summary>
internal static class RequestTarget
{
    /// <summary>
    /// The form of <paramref name="target"/>. An absolute-form target counts only with scheme http or https, an
    /// authority that <see cref="HostAuthority.IsValid(ReadOnlySpan{byte}, bool)"/> accepts (no userinfo) and, after it,
    /// nothing or a path, query or fragment; <paramref name="authority"/> and <paramref name="pathStart"/> then say where
    /// its authority lies and where its path (or '?', '#', or the end) starts. Allocates nothing.
    /// </summary>
    public static RequestTargetForm Classify(ReadOnlySpan<byte> target, out Range authority, out int pathStart)
    {
        authority = default;
        pathStart = 0;
        if (target.IsEmpty)
        {
            return RequestTargetForm.Invalid;
        }
        if (target[0] == (byte)'/')
        {
            return RequestTargetForm.Origin;
        }
        if (target.Length == 1 && target[0] == (byte)'*')
        {
            return RequestTargetForm.Asterisk;
        }
        var schemeLength = StartsWithIgnoreCase(target, "http://"u8) ? 7 : StartsWithIgnoreCase(target, "https://"u8) ? 8 : 0;
        if (schemeLength > 0)
        {
            var rest = target[schemeLength..];
            var end = rest.IndexOfAny((byte)'/', (byte)'?', (byte)'#');
            var length = end < 0 ? rest.Length : end;
            if (!HostAuthority.IsValid(rest[..length]))
            {
                return RequestTargetForm.Invalid;
            }
            authority = schemeLength..(schemeLength + length);
            pathStart = schemeLength + length;
            return RequestTargetForm.Absolute;
        }
        return HostAuthority.IsValid(target, requirePort: true) ? RequestTargetForm.Authority : RequestTargetForm.Invalid;
    }

    /// <inheritdoc cref="Classify(ReadOnlySpan{byte}, out Range, out int)"/>
    public static RequestTargetForm Classify(string target, out Range authority, out int pathStart)
    {
        var bytes = target.Length <= 512 ? stackalloc byte[target.Length] : new byte[target.Length];
        Encoding.Latin1.GetBytes(target, bytes);
        return Classify(bytes, out authority, out pathStart);
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix) =>
        value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);
}
