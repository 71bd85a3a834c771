using System.Security.Cryptography;

namespace TunnelPS.Engine.Configuration;

/// <summary>DNS host name rules: valid labels and names, parents, wildcard patterns, random names.</summary>
public static class HostNames
{
    /// <summary>True for a valid DNS label (a subdomain): 1-63 of a-z, 0-9 and '-', not starting or ending with '-'.</summary>
    public static bool IsValidLabel(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
        {
            return false;
        }
        foreach (var c in label)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True for a valid host name made of DNS labels.</summary>
    public static bool IsValidHostname(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.Length is > 0 and <= 253 && host.Split('.').All(IsValidLabel);
    }

    /// <summary>The proper parents of a host name, nearest first: a.b.c gives b.c, then c.</summary>
    public static IEnumerable<string> Parents(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        while (dot >= 0 && dot < host.Length - 1)
        {
            var parent = host[(dot + 1)..];
            yield return parent;
            dot = host.IndexOf('.', dot + 1);
        }
    }

    /// <summary>True when <paramref name="host"/> lies under <paramref name="parent"/> (not equal to it).</summary>
    public static bool IsUnder(string host, string parent)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(parent);
        return host.Length > parent.Length + 1
            && host.EndsWith(parent, StringComparison.OrdinalIgnoreCase)
            && host[host.Length - parent.Length - 1] == '.';
    }

    /// <summary>True when <paramref name="candidate"/> is <paramref name="host"/> or one of its parents.</summary>
    public static bool IsSameOrParent(string candidate, string host) =>
        string.Equals(candidate, host, StringComparison.OrdinalIgnoreCase) || IsUnder(host, candidate);

    /// <summary>
    /// True when a host matches a pattern: an exact name, or "*.suffix" for any name of one or more labels under the
    /// suffix (not the suffix itself).
    /// </summary>
    public static bool Matches(string pattern, string host)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(host);
        return pattern.StartsWith("*.", StringComparison.Ordinal)
            ? IsUnder(host, pattern[2..])
            : string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>True for a valid pattern: a host name, or "*." and a host name.</summary>
    public static bool IsValidPattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return IsValidHostname(pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern);
    }

    /// <summary>A random, DNS-safe name: 10 lowercase letters and digits, starting with a letter.</summary>
    public static string RandomName()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        Span<char> name = stackalloc char[10];
        name[0] = alphabet[RandomNumberGenerator.GetInt32(26)];
        for (var i = 1; i < name.Length; i++)
        {
            name[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        }
        return new string(name);
    }
}
