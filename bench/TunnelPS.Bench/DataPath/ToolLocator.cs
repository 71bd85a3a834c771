namespace TunnelPS.Bench.DataPath;

/// <summary>Finds an executable on PATH (and in extra folders such as /usr/sbin, which a non-root PATH may lack).</summary>
internal static class ToolLocator
{
    public static string? Find(string name, params string[] extraFolders)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(extraFolders);
        foreach (var folder in folders)
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
