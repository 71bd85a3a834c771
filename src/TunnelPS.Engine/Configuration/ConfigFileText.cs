using System.Buffers;
using System.Text;

namespace TunnelPS.Engine.Configuration;

/// <summary>Reads a YAML file of TunnelPS's (the agent config, a server's token file) whole, with clear errors.</summary>
internal static class ConfigFileText
{
    /// <summary>
    /// The file's text. Throws <see cref="ConfigurationException"/>: NotFound for a missing file (with
    /// <paramref name="notFoundRemedy"/>), InvalidConfiguration for one above <paramref name="maxLength"/> bytes or one
    /// that cannot be read.
    /// </summary>
    public static string Read(string path, long maxLength, string kind, string notFoundRemedy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw ConfigurationException.FileNotFound(path, kind, notFoundRemedy);
            }
            if (info.Length > maxLength)
            {
                throw TooLarge(path, $"The file is {info.Length} bytes, more than the {maxLength} bytes a {kind} may have", kind);
            }
            return ReadBounded(path, maxLength, kind);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw ConfigurationException.FileNotFound(path, kind, notFoundRemedy, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw ConfigurationException.FileAccess(path, "read", kind, ex);
        }
    }

    /// <summary>
    /// Reads at most <paramref name="maxLength"/> bytes: the length checked before is only what the file had then (it
    /// may grow while it is read), and a pipe or a device has none. The text is decoded as File.ReadAllText does (UTF-8
    /// unless a byte order mark says otherwise).
    /// </summary>
    private static string ReadBounded(string path, long maxLength, string kind)
    {
        // Shared for writing and deleting: an editor that saves while the server reads must not fail, and what it
        // leaves half-written is the caller's to judge (a reload settles first and keeps the old content on an error).
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        using var content = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, maxLength + 1 - content.Length))) > 0)
            {
                content.Write(chunk, 0, read);
                if (content.Length > maxLength)
                {
                    throw TooLarge(path, $"The file has more than the {maxLength} bytes a {kind} may have (it grew while it was read, or is not a regular file)", kind);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return Decode(content.GetBuffer().AsSpan(0, (int)content.Length));
    }

    /// <summary>A file's bytes as text, as File.ReadAllText decodes them: UTF-8 unless a byte order mark says otherwise.</summary>
    internal static string Decode(ReadOnlySpan<byte> bytes)
    {
        using var reader = new StreamReader(new MemoryStream(bytes.ToArray(), writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static ConfigurationException TooLarge(string path, string problem, string kind) =>
        new(path, 1, 1, problem, $"Check that this is the TunnelPS {kind}.");
}
