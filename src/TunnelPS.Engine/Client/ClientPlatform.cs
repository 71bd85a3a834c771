using System.Runtime.InteropServices;

namespace TunnelPS.Engine.Client;

/// <summary>The operating system and architecture as an ngrok 1.x Auth message names them (Go's GOOS and GOARCH).</summary>
internal static class ClientPlatform
{
    public static string OsName() =>
        OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : OperatingSystem.IsLinux() ? "linux" : RuntimeInformation.OSDescription;

    public static string ArchName() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        var other => other.ToString().ToLowerInvariant(),
    };
}
