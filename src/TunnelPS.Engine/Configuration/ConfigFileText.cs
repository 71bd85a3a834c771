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
                throw new ConfigurationException(path, 1, 1, $"The file is {info.Length} bytes, more than the {maxLength} bytes a {kind} may have", $"Check that this is the TunnelPS {kind}.");
            }
            return File.ReadAllText(path);
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
}
