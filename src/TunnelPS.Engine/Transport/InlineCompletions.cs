using System.Net.Sockets;
using System.Reflection;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Lets a socket's async operations complete on the runtime's socket event thread instead of being queued to the
/// thread pool (one thread hop and a context switch less per receive) — what DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS
/// does for a whole process, for one socket at a time, so a module inside a user's pwsh needs no environment variable.
/// <para>
/// It uses the runtime's own per-socket switch (SafeSocketHandle.PreferInlineCompletions, internal, on Linux and macOS);
/// where that is missing (another runtime, Windows, where completions already arrive on I/O threads) nothing changes.
/// Code that runs after an inline receive must never block: it runs on the thread that serves every socket's events.
/// </para>
/// </summary>
internal static class InlineCompletions
{
    private static readonly Action<SafeSocketHandle, bool>? s_setPreferInline = Find();

    /// <summary>True when this runtime lets a socket prefer inline completions.</summary>
    public static bool IsSupported => s_setPreferInline is not null;

    /// <summary>
    /// Whether to use inline completions by default: on machines with few cores, where the hop costs more than the
    /// parallelism it buys (the runtime serves all sockets' events on about one thread per 30 cores).
    /// </summary>
    public static bool IsWorthwhile => IsSupported && Environment.ProcessorCount <= 4;

    /// <summary>Makes <paramref name="socket"/>'s async operations complete inline; false when that is not possible here.</summary>
    public static bool TryEnable(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (s_setPreferInline is null)
        {
            return false;
        }
        try
        {
            s_setPreferInline(socket.SafeHandle, true);
            return true;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException or MemberAccessException)
        {
            return false;
        }
    }

    private static Action<SafeSocketHandle, bool>? Find()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            return null;
        }
        try
        {
            var property = typeof(SafeSocketHandle).GetProperty("PreferInlineCompletions", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (property?.PropertyType != typeof(bool) || property.SetMethod is not { } setter)
            {
                return null;
            }
            return setter.CreateDelegate<Action<SafeSocketHandle, bool>>();
        }
        catch (Exception ex) when (ex is AmbiguousMatchException or ArgumentException or MemberAccessException)
        {
            return null;
        }
    }
}
