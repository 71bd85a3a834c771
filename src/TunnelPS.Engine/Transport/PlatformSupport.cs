namespace TunnelPS.Engine.Transport;

/// <summary>
/// What the platform calls (<see cref="PlatformCalls"/>) allow on this computer, and the fallback chosen where one is
/// missing or fails: decided once, when a server starts, and logged feature by feature. A call that throws counts as
/// absent; nothing here stops a server from starting.
/// </summary>
internal sealed record PlatformSupport
{
    /// <summary>
    /// Descriptors assumed where a Unix limit cannot be read: the usual default soft limit of RLIMIT_NOFILE, so the
    /// connection cap stays below what the process most likely has.
    /// </summary>
    public const long AssumedUnixDescriptorLimit = 1024;

    /// <summary>
    /// The connection cap where the platform has no per-process descriptor limit (Windows: sockets are bounded by
    /// memory): the server's fixed, conservative default.
    /// </summary>
    public const int NoDescriptorLimitCap = 20_000;

    /// <summary>RLIMIT_NOFILE's soft limit, or null where there is none (Windows) or it could not be read.</summary>
    public long? DescriptorLimit { get; init; }

    /// <summary>Why <see cref="DescriptorLimit"/> is null (empty when it was read), and what stands in for it.</summary>
    public string DescriptorLimitFallback { get; init; } = "";

    /// <summary>The most connections a server may hold: under the descriptor limit with a reserve, or the fallback cap.</summary>
    public int ConnectionBudget { get; init; }

    /// <summary>Whether sockets may complete inline on the socket event thread.</summary>
    public bool InlineCompletions { get; init; }

    /// <summary>Whether the event-batch deferral may run (it needs inline completions and an AF_UNIX socket pair, on Linux).</summary>
    public bool EventBatchDeferral { get; init; }

    /// <summary>Whether the web inspector can tell which user owns a loopback connection (/proc/net/tcp).</summary>
    public bool SocketOwners { get; init; }

    /// <summary>Whether private files (keys, the agent config, the inspector's secret) get mode 600 and folders 700.</summary>
    public bool UnixFileModes { get; init; }

    /// <summary>The features turned off here, each with its reason and its fallback, for the server's start log.</summary>
    public IReadOnlyList<(string Feature, string Fallback)> TurnedOff { get; init; } = [];

    /// <summary>Asks each call once; a call that throws counts as absent.</summary>
    public static PlatformSupport Probe(PlatformCalls calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        var off = new List<(string, string)>();
        var (limit, budget, limitFallback) = DescriptorBudget(calls);
        if (limitFallback.Length > 0)
        {
            off.Add(("descriptor limit", limitFallback));
        }

        var inline = Ask(calls.InlineCompletions, false, out var inlineError);
        if (!inline)
        {
            off.Add(("inline socket completions", $"the runtime's per-socket switch is missing here{inlineError}; completions go through the thread pool"));
        }
        var unixSockets = Ask(calls.UnixDomainSockets, false, out var unixError);
        var deferral = inline && unixSockets;
        if (!deferral)
        {
            var reason = !inline ? "it needs inline socket completions" : $"no AF_UNIX socket pair here{unixError}";
            off.Add(("event-batch deferral", reason + "; each link write drains at once"));
        }
        var owners = Ask(calls.SocketOwners, false, out var ownersError);
        if (!owners)
        {
            off.Add(("inspector peer owner check", $"/proc/net/tcp or the process's uid cannot be read{ownersError}; the inspector's key alone admits a caller"));
        }
        var modes = Ask(calls.UnixFileModes, false, out var modesError);
        if (!modes)
        {
            off.Add(("private file modes", $"no Unix file modes here{modesError}; keys and secrets under ~/.tunnelps inherit the user profile's ACL (readable by the user, SYSTEM and Administrators on Windows)"));
        }
        return new PlatformSupport
        {
            DescriptorLimit = limit,
            DescriptorLimitFallback = limitFallback,
            ConnectionBudget = budget,
            InlineCompletions = inline,
            EventBatchDeferral = deferral,
            SocketOwners = owners,
            UnixFileModes = modes,
            TurnedOff = off,
        };
    }

    /// <summary>The descriptor limit, the connection budget under it, and the fallback in force when it is unknown (empty when it was read).</summary>
    private static (long? Limit, int Budget, string Fallback) DescriptorBudget(PlatformCalls calls)
    {
        var limit = Ask(calls.DescriptorLimit, null, out var limitError);
        var open = Ask(calls.OpenDescriptors, null, out _);
        if (limit is { } value)
        {
            return (value, Transport.DescriptorLimit.ConnectionBudget(value, open, NoDescriptorLimitCap), "");
        }
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            var assumed = Transport.DescriptorLimit.ConnectionBudget(AssumedUnixDescriptorLimit, open, NoDescriptorLimitCap);
            return (null, assumed, $"the descriptor limit (getrlimit RLIMIT_NOFILE) could not be read{limitError}; assuming {AssumedUnixDescriptorLimit}, at most {assumed} connections");
        }
        return (null, NoDescriptorLimitCap, $"this platform has no per-process descriptor limit{limitError}; sockets are bounded by memory, at most {NoDescriptorLimitCap} connections");
    }

    private static T Ask<T>(Func<T> call, T absent, out string error)
    {
        try
        {
            error = "";
            return call();
        }
#pragma warning disable CA1031 // A platform call that fails in any way counts as absent; the reason goes into the start log.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = $" ({ex.GetType().Name}: {ex.Message})";
            return absent;
        }
    }
}
