using System.Management.Automation;
using TunnelPS.Engine;

namespace TunnelPS.Hosting;

/// <summary>
/// Carries the log entries of one engine object (a server or a client) to the cmdlet that is
/// waiting on it, if any: Debug and Trace to Write-Debug, Information to Write-Verbose,
/// Warning and above to Write-Warning. With no cmdlet attached (a server running in the
/// background between commands) entries are not even formatted. A cmdlet that shows a server's activity while it
/// waits (Start-TunnelServer -Wait) attaches with <c>informationToHost</c>: Information entries (logins, tunnels
/// opened and closed) are then written on the host, one line each, as Write-Host does, without -Verbose. Many entries quote a peer (a host
/// name, a URL, an error): each is written as one line with its control characters shown visibly.
/// </summary>
/// <remarks>
/// The engine calls <see cref="IsEnabled"/> and <see cref="Write"/> on its own threads, through
/// the delegates given to its CallbackLoggerFactory (by the options' WithLogCallback); writes
/// are queued on the attached cmdlet's <see cref="PipelineBridge"/> and dropped (and counted)
/// when it is full, so logging never holds back tunnel traffic. Levels are
/// Microsoft.Extensions.Logging's LogLevel values.
/// </remarks>
internal sealed class EngineLogRoute
{
    private const int DebugLevel = 1;
    private const int InformationLevel = 2;
    private const int WarningLevel = 3;
    private const int CriticalLevel = 5;

    private Target? _target;

    /// <summary>A JSON-lines file that receives every entry at its level, whether or not a cmdlet is attached.</summary>
    internal JsonLinesLogFile? File { get; set; }

    /// <summary>
    /// Sends entries at <paramref name="minimumLevel"/> and above to <paramref name="bridge"/> until detached; with
    /// <paramref name="informationToHost"/>, Information entries too, as host lines unless -Verbose asked for them.
    /// </summary>
    internal void Attach(PipelineBridge bridge, int minimumLevel, bool informationToHost = false)
    {
        ArgumentNullException.ThrowIfNull(bridge);
        bool hostLines = informationToHost && minimumLevel > InformationLevel;
        Volatile.Write(ref _target, new Target(bridge, hostLines ? InformationLevel : minimumLevel, hostLines));
    }

    /// <summary>Stops sending entries to <paramref name="bridge"/> (if it is still the attached one).</summary>
    internal void Detach(PipelineBridge bridge)
    {
        Target? current = Volatile.Read(ref _target);
        if (current is not null && ReferenceEquals(current.Bridge, bridge))
        {
            Interlocked.CompareExchange(ref _target, null, current);
        }
    }

    /// <summary>True when an entry at <paramref name="level"/> would be written somewhere.</summary>
    internal bool IsEnabled(int level) =>
        (Volatile.Read(ref _target) is { } target && level >= target.MinimumLevel && level <= CriticalLevel)
        || (File is { } file && level >= file.MinimumLevel && level <= CriticalLevel);

    /// <summary>Queues one entry for the attached cmdlet; drops it when none is attached.</summary>
    internal void Write(int level, string category, string message, Exception? exception)
    {
        File?.Write(level, category, message, exception);
        Target? target = Volatile.Read(ref _target);
        if (target is null || level < target.MinimumLevel || level > CriticalLevel)
        {
            return;
        }

        string source = category.StartsWith("TunnelPS.", StringComparison.Ordinal) ? category["TunnelPS.".Length..] : category;
        string text = TerminalText.Line(exception is null || message.Contains(exception.Message, StringComparison.Ordinal)
            ? $"[{source}] {message}"
            : $"[{source}] {message}: {exception.Message}");

        if (level >= WarningLevel)
        {
            target.Bridge.TryPost(cmdlet => cmdlet.WriteWarning(text));
        }
        else if (level == InformationLevel && target.InformationToHost)
        {
            target.Bridge.TryPost(cmdlet => cmdlet.WriteInformation(new HostInformationMessage { Message = text }, ["PSHOST"]));
        }
        else if (level == InformationLevel)
        {
            target.Bridge.PostVerbose(text);
        }
        else
        {
            target.Bridge.PostDebug(text);
        }
    }

    /// <summary>The lowest level worth sending to <paramref name="cmdlet"/>: Debug with -Debug, Information with -Verbose, else Warning.</summary>
    internal static int MinimumLevelFor(PSCmdlet cmdlet)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        if (IsOn(cmdlet, "Debug", "DebugPreference"))
        {
            return DebugLevel;
        }

        return IsOn(cmdlet, "Verbose", "VerbosePreference") ? InformationLevel : WarningLevel;
    }

    private static bool IsOn(PSCmdlet cmdlet, string switchName, string preferenceVariable)
    {
        if (cmdlet.MyInvocation.BoundParameters.TryGetValue(switchName, out object? bound))
        {
            return bound is SwitchParameter { IsPresent: true } || bound is true;
        }

        return cmdlet.GetVariableValue(preferenceVariable) is ActionPreference preference
            && preference is not (ActionPreference.SilentlyContinue or ActionPreference.Ignore);
    }

    private sealed record Target(PipelineBridge Bridge, int MinimumLevel, bool InformationToHost);
}
