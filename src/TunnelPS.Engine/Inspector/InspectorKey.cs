using System.Security.Cryptography;
using System.Text;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The per-user secret that admits a connection whose owner the platform does not tell (not Linux, or a peer not
/// listed in /proc/net/tcp): 32 random bytes, base64url, in a file only its user can read (~/.tunnelps/inspector.key
/// for the module). A browser gets it once from the link the module shows (/?key=…), which sets it as an HttpOnly,
/// SameSite=Strict cookie; API clients send it as the <see cref="HeaderName"/> header (<see cref="InspectorClient"/>
/// reads the file itself).
/// </summary>
internal sealed class InspectorKey
{
    public const string HeaderName = "X-TunnelPS-Key";
    public const string CookieName = "tunnelps_key";
    public const string QueryName = "key";

    private readonly byte[] _bytes;

    private InspectorKey(string value, string path)
    {
        Value = value;
        Path = path;
        _bytes = Encoding.ASCII.GetBytes(value);
    }

    public string Value { get; }

    public string Path { get; }

    /// <summary>Reads the key in <paramref name="path"/>, creating it (and its folder) for this user only when missing.</summary>
    /// <exception cref="TunnelConfigurationException">The file cannot be read or written.</exception>
    public static InspectorKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            if (Read(path) is { } existing)
            {
                return new InspectorKey(existing, path);
            }
            var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            PrivateFiles.CreateFolder(folder);
            var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var options = PrivateFiles.Options(FileMode.Create, FileAccess.Write);
            // Written whole to a file of our own, then moved into place: a second process reads a whole key or none.
            var temporary = path + "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp";
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(value + "\n"));
            }
            try
            {
                File.Move(temporary, path, overwrite: false);
                PrivateFiles.Restrict(path);
            }
            catch (IOException) when (Read(path) is not null)
            {
                // Another process made one first: use it.
                File.Delete(temporary);
            }
            return new InspectorKey(Read(path) ?? value, path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TunnelConfigurationException($"The web inspector cannot keep its access key in '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>The key in <paramref name="path"/>, or null when there is none (or it is not one).</summary>
    public static string? Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > 256)
            {
                return null;
            }
            var text = File.ReadAllText(path).Trim();
            return text.Length >= 32 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? text : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True when <paramref name="candidate"/> is the key (compared in constant time).</summary>
    public bool Matches(string? candidate) =>
        candidate is not null && candidate.Length == Value.Length && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate), _bytes);

    /// <summary>The key a request carries: the header, else the cookie.</summary>
    public static string? Carried(InspectorRequest request)
    {
        if (request.Header(HeaderName) is { } header)
        {
            return header.Trim();
        }
        if (request.Header("Cookie") is not { } cookies)
        {
            return null;
        }
        foreach (var pair in cookies.Split(';'))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && pair.AsSpan(0, eq).Trim().SequenceEqual(CookieName))
            {
                return pair[(eq + 1)..].Trim();
            }
        }
        return null;
    }
}
