using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Changes one top-level value of the agent config file (used to store <c>authtoken</c>), keeping the rest of the
/// file's text: the key's line is edited in place when present, otherwise a line is appended.
/// </summary>
public static partial class AgentConfigWriter
{
    private static readonly string[] ScalarKeys =
    [
        "server_addr", "trust_host_root_certs", "http_proxy", "inspect_addr", "authtoken", "auth_token",
        "authtoken_secret", "authtoken_vault", "server_certificate_thumbprint", "skip_certificate_check",
        "inspect", "inspect_limit", "inspect_body_limit", "inspect_memory_limit", "host_header",
    ];

    /// <summary>
    /// Sets <paramref name="key"/> to <paramref name="value"/> (written double-quoted), or removes the key when
    /// <paramref name="value"/> is null. Creates the file and its folder when missing. On Unix the file is written
    /// with mode 600 (and a new folder with 700), since it may hold a token. <c>authtoken</c> and <c>auth_token</c>
    /// are the same setting: setting either edits whichever line the file has. The new text is validated with
    /// <see cref="AgentConfigLoader.Parse"/> before the file is replaced (atomically, through a temporary file).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a top-level scalar setting.</exception>
    /// <exception cref="ConfigurationException">The result would not be a valid config, or the file cannot be written.</exception>
    public static void SetValue(string path, string key, string? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!ScalarKeys.Contains(key, StringComparer.Ordinal))
        {
            var suggestion = AgentConfigLoader.Suggest(key, ScalarKeys);
            throw new ArgumentException(
                $"'{key}' is not a top-level setting that can be set this way{(suggestion is null ? "" : $"; did you mean '{suggestion}'")}. Settable keys: {string.Join(", ", ScalarKeys)}.",
                nameof(key));
        }

        string original;
        try
        {
            original = File.Exists(path) ? File.ReadAllText(path) : string.Empty;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw ConfigurationException.FileAccess(path, "read", ex);
        }

        var updated = Edit(original, key, value);
        AgentConfigLoader.Parse(updated, path); // never write a file the loader would reject
        Write(path, updated);
    }

    /// <summary>The text with the key set or removed (exposed for tests).</summary>
    internal static string Edit(string text, string key, string? value)
    {
        var newline = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var lines = text.Length == 0 ? new List<string>() : text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var hadFinalNewline = text.EndsWith('\n');
        if (hadFinalNewline)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var names = key is "authtoken" or "auth_token" ? new[] { "authtoken", "auth_token" } : [key];
        var index = lines.FindIndex(line => names.Any(n => TopLevelKey(line) == n));
        var newLine = value is null ? null : $"{(index >= 0 ? TopLevelKey(lines[index]) : key)}: {Quote(value)}";
        if (index >= 0)
        {
            // Remove the key's line and any indented continuation lines of a multi-line value.
            var end = index + 1;
            while (end < lines.Count && lines[end].Length > 0 && (lines[end][0] == ' ' || lines[end][0] == '\t'))
            {
                end++;
            }
            var comment = TrailingComment(lines[index]);
            lines.RemoveRange(index, end - index);
            if (newLine is not null)
            {
                lines.Insert(index, comment is null ? newLine : $"{newLine} {comment}");
            }
        }
        else if (newLine is not null)
        {
            // Append after the document, before a document-end marker if there is one.
            var at = lines.Count;
            while (at > 0 && lines[at - 1].Trim().Length == 0)
            {
                at--;
            }
            if (at > 0 && lines[at - 1].Trim() == "...")
            {
                at--;
            }
            lines.Insert(at, newLine);
        }

        var result = string.Join(newline, lines);
        return result.Length == 0 || (!hadFinalNewline && text.Length > 0) ? result : result + newline;
    }

    private static string? TopLevelKey(string line)
    {
        var match = TopLevelKeyPattern().Match(line);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>A comment after a plain (unquoted) value on the key's line, kept when the line is rewritten.</summary>
    private static string? TrailingComment(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        var rest = line[(colon + 1)..].TrimStart();
        if (rest.StartsWith('"') || rest.StartsWith('\''))
        {
            return null;
        }
        var hash = rest.IndexOf(" #", StringComparison.Ordinal);
        return rest.StartsWith('#') ? rest : hash >= 0 ? rest[(hash + 1)..] : null;
    }

    /// <summary>A YAML double-quoted scalar.</summary>
    private static string Quote(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (char.IsControl(c))
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    private static void Write(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            if (!Directory.Exists(folder))
            {
                PrivateFiles.CreateFolder(folder);
            }
            var options = PrivateFiles.Options(FileMode.CreateNew, FileAccess.Write, FileShare.None);
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
            {
                writer.Write(text);
            }
            File.Move(temporary, full, overwrite: true);
            PrivateFiles.Restrict(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The write failed and its temporary file stays behind: the error names it, so the user can remove it.
                throw ConfigurationException.FileAccess(path, "write", new IOException($"{ex.Message} (the temporary file '{temporary}' could not be removed either: {cleanup.Message})", ex));
            }
            throw ConfigurationException.FileAccess(path, "write", ex);
        }
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*)\s*:(\s|$)", RegexOptions.CultureInvariant)]
    private static partial Regex TopLevelKeyPattern();
}
