using System.Runtime.InteropServices;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The process's limit on open descriptors (RLIMIT_NOFILE's soft limit) on Linux and macOS, where running out of them
/// makes .NET unable to start threads and ends the process. Windows has no such per-process limit for sockets.
/// </summary>
internal static partial class DescriptorLimit
{
    /// <summary>The soft limit, or null where there is none or it cannot be read.</summary>
    public static long? Current()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()))
        {
            return null;
        }
        try
        {
            var resource = OperatingSystem.IsLinux() ? 7 : 8; // RLIMIT_NOFILE
            if (NativeMethods.getrlimit(resource, out var limit) != 0)
            {
                return null;
            }
            return limit.Current is 0 or > long.MaxValue ? null : (long)limit.Current;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Descriptors the process has open now (Linux: /proc/self/fd, macOS: /dev/fd), or null where that cannot be read.</summary>
    public static int? OpenCount()
    {
        var folder = OperatingSystem.IsLinux() ? "/proc/self/fd" : OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? "/dev/fd" : null;
        if (folder is null)
        {
            return null;
        }
        try
        {
            return Directory.EnumerateFileSystemEntries(folder).Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The most connections a server may hold under <paramref name="limit"/> when <paramref name="open"/> descriptors
    /// are already in use (a pwsh process holds a couple of hundred): what is left, less a reserve for the runtime, log
    /// files, listeners and the connections a tunnel client in the same process opens (an eighth of the limit, at
    /// least 64).
    /// </summary>
    public static int ConnectionBudget(long? limit, int? open = null, int fallback = 20_000)
    {
        if (limit is not { } value)
        {
            return fallback;
        }
        var reserve = Math.Max(64, value / 8);
        return (int)Math.Clamp(value - (open ?? 0) - reserve, 16, fallback);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
#pragma warning disable CA5392, SYSLIB1054, IDE1006 // A plain libc call; no marshalling that the source generator would improve.
        public static extern int getrlimit(int resource, out RLimit limit);
#pragma warning restore CA5392, SYSLIB1054, IDE1006
    }
}
