using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Lets a socket's async operations complete on the runtime's socket event thread instead of being queued to the
/// thread pool (one thread hop and a context switch less per receive) — what DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS
/// does for a whole process, for one socket at a time, so a module inside a user's pwsh needs no environment variable.
/// <para>
/// The runtime has no supported per-socket hook (.NET 8 to 10): the environment variable is read once, when the first
/// socket of the process is made, and applies to every socket of the process, the user's own ones included. So this
/// class sets the runtime's own per-socket switch, <c>SafeSocketHandle.PreferInlineCompletions</c> (internal, on Linux and
/// macOS), by reflection, and fails loudly rather than silently: <see cref="Describe"/> gives the line the server and
/// the client log when they start, and a test fails when the property is missing on the runtime we ship for. Where it is
/// missing (another runtime, Windows, where completions already arrive on I/O threads) nothing changes.
/// </para>
/// <para>
/// Off switches: <see cref="EnvironmentVariable"/>=0 for the whole process (read once, like the runtime's variable),
/// and per server or client the option InlineSocketCompletions (Start-TunnelServer / Start-Tunnel -NoInlineCompletions,
/// the config key inline_completions).
/// </para>
/// <para>
/// Code that runs after an inline receive must never block: it runs on the thread that serves every socket's events.
/// The synchronous members of the link's streams refuse to run there (<see cref="ThrowIfOnEventThread"/>).
/// </para>
/// </summary>
internal static class InlineCompletions
{
    /// <summary>The process-wide switch: 0 (or false, off, no) turns inline completions off for every server and client; 1 turns them on on any number of cores.</summary>
    public const string EnvironmentVariable = "TUNNELPS_INLINE_COMPLETIONS";

    /// <summary>The runtime's internal property that this class sets, on <see cref="SafeSocketHandle"/>.</summary>
    public const string RuntimeProperty = "PreferInlineCompletions";

    /// <summary>The name the runtime gives its socket event thread on Linux and macOS (SocketAsyncEngine).</summary>
    public const string EventThreadName = ".NET Sockets";

    /// <summary>The most cores on which inline completions are on by default.</summary>
    public const int DefaultMaxProcessors = 4;

    private static readonly (Action<SafeSocketHandle, bool>? Setter, string Problem) s_hook = Find();

    private static readonly bool? s_environment = ParseSwitch(Environment.GetEnvironmentVariable(EnvironmentVariable), out _);

    // 0: not known yet, 1: the event thread, 2: another thread. A thread's name does not change once the runtime set it.
    [ThreadStatic]
    private static byte t_eventThread;

    /// <summary>True when this runtime lets a socket prefer inline completions.</summary>
    public static bool IsSupported => s_hook.Setter is not null;

    /// <summary>Why <see cref="IsSupported"/> is false ("" when it is true).</summary>
    public static string UnsupportedReason => s_hook.Problem;

    /// <summary>True when <see cref="EnvironmentVariable"/> turns inline completions off for the whole process.</summary>
    public static bool IsDisabledByEnvironment => s_environment == false;

    /// <summary>
    /// Whether to use inline completions by default: on machines with few cores, where the hop costs more than the
    /// parallelism it buys (the runtime serves all sockets' events on about one thread per 30 cores), unless
    /// <see cref="EnvironmentVariable"/> says otherwise.
    /// </summary>
    public static bool IsWorthwhile => IsSupported && (s_environment ?? Environment.ProcessorCount <= DefaultMaxProcessors);

    /// <summary>True on the runtime's socket event thread, where inline completions run and nothing may block.</summary>
    public static bool IsOnEventThread
    {
        get
        {
            if (t_eventThread == 0)
            {
                t_eventThread = Thread.CurrentThread.Name == EventThreadName ? (byte)1 : (byte)2;
            }
            return t_eventThread == 1;
        }
    }

    /// <summary>
    /// Throws when called on the socket event thread: a synchronous call there would block every socket of the process
    /// (and one that waits for a socket would wait for itself).
    /// </summary>
    public static void ThrowIfOnEventThread(string member)
    {
        if (IsOnEventThread)
        {
            throw new InvalidOperationException(
                $"{member} is synchronous and would block the runtime's socket event thread, which serves every socket of the process (inline completions). Use the asynchronous member instead.");
        }
    }

    /// <summary>
    /// Reads a switch value as <see cref="EnvironmentVariable"/> takes it: 1/true/on/yes, 0/false/off/no (any case);
    /// null when empty or not set; null with <paramref name="invalid"/> true for anything else.
    /// </summary>
    public static bool? ParseSwitch(string? value, out bool invalid)
    {
        invalid = false;
        switch (value?.Trim().ToUpperInvariant())
        {
            case null or "":
                return null;
            case "1" or "TRUE" or "ON" or "YES":
                return true;
            case "0" or "FALSE" or "OFF" or "NO":
                return false;
            default:
                invalid = true;
                return null;
        }
    }

    /// <summary>
    /// The line a server or client logs when it starts: whether its sockets complete inline, and why (or why not).
    /// <paramref name="requested"/> is its InlineSocketCompletions option. <paramref name="unexpected"/> is true when they
    /// are off only because the runtime's hook is missing where it was expected (log it as a warning).
    /// </summary>
    public static string Describe(bool requested, out bool unexpected) =>
        Describe(requested, IsSupported, UnsupportedReason, Environment.GetEnvironmentVariable(EnvironmentVariable), Environment.ProcessorCount, out unexpected);

    /// <summary>
    /// Logs the line a server or client says when it starts (its logger's category says which): whether its sockets
    /// complete inline and why; a warning when the runtime's hook is missing where it was expected.
    /// </summary>
    public static void LogState(ILogger logger, bool requested)
    {
        var description = Describe(requested, out var unexpected);
        if (unexpected)
        {
            TransportLog.InlineCompletionsMissing(logger, description);
        }
        else
        {
            TransportLog.InlineCompletionsState(logger, description);
        }
    }

    /// <summary><see cref="Describe(bool, out bool)"/> with every input given (for tests).</summary>
    internal static string Describe(bool requested, bool supported, string problem, string? environment, int processors, out bool unexpected)
    {
        unexpected = false;
        var fromEnvironment = ParseSwitch(environment, out var invalid);
        var ignored = invalid ? $" ({EnvironmentVariable}='{environment}' is ignored: use 0 or 1)" : "";
        if (fromEnvironment == false)
        {
            return $"Inline socket completions are off: {EnvironmentVariable}={environment!.Trim()} turns them off for the whole process.";
        }
        if (!supported)
        {
            unexpected = requested && (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS());
            return $"Inline socket completions are off: {problem}{ignored}";
        }
        if (!requested)
        {
            var why = fromEnvironment == true || processors <= DefaultMaxProcessors
                ? "turned off (-NoInlineCompletions, inline_completions: false, or the option InlineSocketCompletions)"
                : $"off by default on {processors} cores (more than {DefaultMaxProcessors}; {EnvironmentVariable}=1 turns them on)";
            return $"Inline socket completions are off: {why}{ignored}.";
        }
        var reason = fromEnvironment == true ? $"{EnvironmentVariable}=1" : $"{processors} cores, at most {DefaultMaxProcessors}";
        return $"Inline socket completions are on ({reason}): socket events of the tunnel's connections complete on the runtime's socket event thread through SafeSocketHandle.{RuntimeProperty}; {EnvironmentVariable}=0 or -NoInlineCompletions turns them off{ignored}.";
    }

    /// <summary>Makes <paramref name="socket"/>'s async operations complete inline; false when that is not possible here.</summary>
    public static bool TryEnable(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (s_hook.Setter is not { } setter || s_environment == false)
        {
            return false;
        }
        try
        {
            setter(socket.SafeHandle, true);
            return true;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException or MemberAccessException)
        {
            // A socket closed meanwhile (or a runtime that refuses): it simply completes through the thread pool.
            return false;
        }
    }

    private static (Action<SafeSocketHandle, bool>? Setter, string Problem) Find()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            return (null, "this operating system completes socket operations on I/O threads already (only Linux and macOS have the socket event thread).");
        }
        var missing = $"the runtime (.NET {Environment.Version}) has no settable bool property SafeSocketHandle.{RuntimeProperty}, which TunnelPS sets by reflection; sockets complete through the thread pool.";
        try
        {
            var property = typeof(SafeSocketHandle).GetProperty(RuntimeProperty, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (property?.PropertyType != typeof(bool) || property.SetMethod is not { } setter)
            {
                return (null, missing);
            }
            return (setter.CreateDelegate<Action<SafeSocketHandle, bool>>(), "");
        }
        catch (Exception ex) when (ex is AmbiguousMatchException or ArgumentException or MemberAccessException)
        {
            return (null, missing + " (" + ex.Message + ")");
        }
    }
}
