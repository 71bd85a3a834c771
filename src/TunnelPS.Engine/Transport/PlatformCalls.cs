namespace TunnelPS.Engine.Transport;

/// <summary>
/// The platform-specific calls the server decides its features on, one delegate each (docs/platforms.md lists them
/// with their guards). <see cref="System"/> is the real one; a test swaps a delegate for one that throws or answers
/// "absent", as the call would on a platform that lacks it, and checks what the server turns off.
/// </summary>
internal sealed class PlatformCalls
{
    /// <summary>The calls of the platform this process runs on.</summary>
    public static PlatformCalls System { get; } = new();

    /// <summary>RLIMIT_NOFILE's soft limit through getrlimit (Linux, macOS, FreeBSD); null where there is none.</summary>
    public Func<long?> DescriptorLimit { get; init; } = Transport.DescriptorLimit.Current;

    /// <summary>Descriptors open now (/proc/self/fd on Linux, /dev/fd on macOS and FreeBSD); null where that cannot be read.</summary>
    public Func<int?> OpenDescriptors { get; init; } = Transport.DescriptorLimit.OpenCount;

    /// <summary>Whether the runtime's per-socket inline completion switch exists (epoll and kqueue engines only).</summary>
    public Func<bool> InlineCompletions { get; init; } = static () => Transport.InlineCompletions.IsSupported;

    /// <summary>Whether AF_UNIX stream sockets exist (the event-batch deferral's signalling socket pair).</summary>
    public Func<bool> UnixDomainSockets { get; init; } = static () => OperatingSystem.IsLinux() && global::System.Net.Sockets.Socket.OSSupportsUnixDomainSockets;

    /// <summary>Whether /proc/net/tcp and this process's uid can be read (the web inspector's check of who connects).</summary>
    public Func<bool> SocketOwners { get; init; } = static () => SocketOwner.IsSupported && SocketOwner.EffectiveUserId is not null;

    /// <summary>Whether files and folders can be created with Unix modes (600, 700): everywhere but Windows.</summary>
    public Func<bool> UnixFileModes { get; init; } = static () => !OperatingSystem.IsWindows();
}
