namespace TunnelPS.Inspector.Tests;

/// <summary>
/// The Chromium that Debian's package installs (apt-get install chromium), found on the PATH as `command -v
/// chromium` finds it. Playwright's own browser download is never used: tests that need a browser skip, with this
/// reason, when there is none.
/// </summary>
internal static class Chromium
{
    private static readonly Lazy<string?> s_path = new(Find);

    /// <summary>The chromium executable, or null.</summary>
    public static string? ExecutablePath => s_path.Value;

    /// <summary>Why the browser tests skip, or null when they run.</summary>
    public static string? SkipReason => ExecutablePath is null
        ? "No chromium on the PATH: install Debian's package (apt-get install -y chromium; .ci/run does) to run the web inspector's browser tests."
        : null;

    private static string? Find()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "chromium");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
