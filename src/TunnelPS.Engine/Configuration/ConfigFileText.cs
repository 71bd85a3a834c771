using System.Text;

namespace TunnelPS.Engine.Configuration;

/// <summary>Reads a YAML file of TunnelPS's (the agent config, a server's token file) whole, with clear errors.</summary>
internal static class ConfigFileText
{
    /// <summary>
    /// The file's text. Throws <see cref="ConfigurationException"/>: NotFound for a missing file (with
    /// <paramref name="notFoundRemedy"/>), InvalidConfiguration for one above <paramref name="maxLength"/> bytes or one
    /// that cannot be read. The bound holds for what is read, not only for the length the file system reports: a file
    /// that grows while it is read, a FIFO or a device (which report no length) stop at <paramref name="maxLength"/>.
    /// </summary>
    public static string Read(string path, long maxLength, string kind, string notFoundRemedy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, Array.MaxLength - 1L);
        try
        {
            if (!File.Exists(path))
            {
                throw ConfigurationException.FileNotFound(path, kind, notFoundRemedy);
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.SequentialScan);
            if (stream.CanSeek && stream.Length > maxLength)
            {
                throw TooLarge(path, stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), maxLength, kind);
            }
            var bytes = new byte[(int)Math.Min(maxLength + 1, stream.CanSeek ? stream.Length + 1 : maxLength + 1)];
            var count = 0;
            int read;
            while (count < bytes.Length && (read = stream.Read(bytes, count, bytes.Length - count)) > 0)
            {
                count += read;
                if (count == bytes.Length && count <= maxLength)
                {
                    // The file grew past the length it reported: keep reading up to the bound.
                    Array.Resize(ref bytes, (int)Math.Min(maxLength + 1, (long)bytes.Length * 2));
                }
            }
            if (count > maxLength)
            {
                throw TooLarge(path, "more than " + maxLength.ToString(System.Globalization.CultureInfo.InvariantCulture), maxLength, kind);
            }
            // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
            using var reader = new StreamReader(new MemoryStream(bytes, 0, count, writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
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

    private static ConfigurationException TooLarge(string path, string size, long maxLength, string kind) =>
        new(path, 1, 1, $"The file is {size} bytes, more than the {maxLength} bytes a {kind} may have", $"Check that this is the TunnelPS {kind}.");
}
