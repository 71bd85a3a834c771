using System.Collections.Concurrent;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using TunnelPS.Engine.Client;

namespace TunnelPS.Session;

/// <summary>
/// Makes status changes of the session's tunnels visible without anyone polling Get-Tunnel: each change raises the
/// PowerShell event <see cref="SourceIdentifier"/> in the runspace that started the tunnel (Register-EngineEvent), and
/// a change of a tunnel to Degraded, Reconnecting or Failed writes one warning on the host, once per tunnel and change
/// (an http/https pair shares one warning; the requests that follow add none). The warning is written only if the
/// change is still the tunnel's latest when PowerShell runs the event's action: a change seen while a command held the
/// pipeline (Start-Tunnel -Wait) that was followed by a recovery, or by the user stopping the tunnel, is not written
/// on the prompt line after the command ends.
/// </summary>
/// <remarks>
/// The engine reports changes on its own threads. <see cref="PSEventManager.GenerateEvent(string, object, object[], PSObject)"/>
/// is safe to call from any thread; PowerShell runs the event's actions on the pipeline thread (at the prompt, between
/// commands), so the warning is written by a hidden action of this module (Get-EventSubscriber does not list it) that
/// calls the host, as Register-EngineEvent -Action would.
/// </remarks>
internal static class TunnelStatusEvents
{
    /// <summary>The SourceIdentifier of the PowerShell event raised for every status change of a tunnel.</summary>
    internal const string SourceIdentifier = "TunnelPS.TunnelStatusChanged";

    private const string WarningAction = "if ($Event.SourceEventArgs.Warning -and $Event.SourceEventArgs.IsCurrent) { $Host.UI.WriteWarningLine($Event.SourceEventArgs.Warning) }";

    private static readonly ConditionalWeakTable<PSEventManager, object> s_warningSubscriptions = new();

    /// <summary>Watches <paramref name="tunnels"/> (one client's URLs), raising events in <paramref name="events"/>.</summary>
    internal static void Watch(IReadOnlyList<Tunnel> tunnels, PSEventManager events)
    {
        ArgumentNullException.ThrowIfNull(tunnels);
        ArgumentNullException.ThrowIfNull(events);
        EnsureWarningAction(events);
        var warned = new ConcurrentDictionary<TunnelDefinition, TunnelStatus>(ReferenceEqualityComparer.Instance);
        foreach (Tunnel tunnel in tunnels)
        {
            var watcher = new Watcher(tunnel, events, warned);
            tunnel.StatusChanged += watcher.OnStatusChanged;
        }
    }

    private static void EnsureWarningAction(PSEventManager events)
    {
        lock (s_warningSubscriptions)
        {
            if (s_warningSubscriptions.TryGetValue(events, out _))
            {
                return;
            }

            PSEventSubscriber subscriber = events.SubscribeEvent(
                source: null,
                eventName: null,
                sourceIdentifier: SourceIdentifier,
                data: null,
                action: ScriptBlock.Create(WarningAction),
                supportEvent: true,
                forwardEvent: false);
            s_warningSubscriptions.Add(events, subscriber);
        }
    }

    /// <summary>The warning for a change to <paramref name="status"/>, or null when the change is good news.</summary>
    internal static string? WarningFor(Tunnel tunnel, TunnelStatus status, string? error) => status switch
    {
        // A TCP tunnel has no error page and captures no requests: its visitors' connections are closed.
        TunnelStatus.Degraded when tunnel.Protocol == "tcp" =>
            $"Tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) is Degraded: {Sentence(error)} Visitors' connections are closed at once until the local service at {tunnel.LocalAddress} accepts connections; Get-Tunnel shows Status and LastError.",
        TunnelStatus.Degraded =>
            $"Tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) is Degraded: {Sentence(error)} Visitors get the client's error page (502, or 504 on a timeout) until the local service at {tunnel.LocalAddress} answers; Get-Tunnel shows Status and LastError, Get-TunnelRequest the failed requests.",
        TunnelStatus.Reconnecting =>
            $"Tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) is Reconnecting to {tunnel.ServerAddress}: {Sentence(error)} Visitors get 503 until the client is back; it asks for the same URL again.",
        TunnelStatus.Failed =>
            $"Tunnel '{tunnel.Name}' ({tunnel.PublicUrl}) Failed: {Sentence(error)} It is not retried; Stop-Tunnel it and start it again.",
        _ => null,
    };

    private static string Sentence(string? error)
    {
        string text = string.IsNullOrWhiteSpace(error) ? "no reason was given" : error.Trim();
        return text.EndsWith('.') ? text : text + ".";
    }

    private sealed class Watcher(Tunnel tunnel, PSEventManager events, ConcurrentDictionary<TunnelDefinition, TunnelStatus> warned)
    {
        private int _last = (int)TunnelStatus.Online;
        private long _changes;

        /// <summary>True while change number <paramref name="change"/> is this URL's latest and its status still holds.</summary>
        private bool IsLatest(long change, TunnelStatus status) => Interlocked.Read(ref _changes) == change && tunnel.Status == status;

        internal void OnStatusChanged(object? sender, EventArgs e)
        {
            TunnelStatus status = tunnel.Status;
            var previous = (TunnelStatus)Interlocked.Exchange(ref _last, (int)status);
            if (previous == status)
            {
                return;
            }

            long change = Interlocked.Increment(ref _changes);

            string? error = tunnel.Error;
            string? warning = null;
            TunnelDefinition definition = tunnel.Endpoint.Definition;
            if (status is TunnelStatus.Degraded or TunnelStatus.Reconnecting or TunnelStatus.Failed)
            {
                // One warning per tunnel and change: the sibling URL of an http/https pair changes too, and stays quiet.
                TunnelStatus before = warned.GetOrAdd(definition, TunnelStatus.Online);
                if (before != status && warned.TryUpdate(definition, status, before))
                {
                    warning = WarningFor(tunnel, status, error);
                }
            }
            else
            {
                warned[definition] = status;
            }

            var args = new TunnelStatusChangedEventArgs(tunnel, previous, status, error, DateTimeOffset.Now, warning, () => IsLatest(change, status));
            try
            {
                events.GenerateEvent(SourceIdentifier, tunnel, [tunnel, args], null);
            }
#pragma warning disable CA1031 // The runspace may be closing; a tunnel's status change must never fail on it.
            catch (Exception)
#pragma warning restore CA1031
            {
                // This runs on an engine thread: a throw here would end the process. The event manager refuses when its
                // runspace is closing, and that runspace is the only place the event, its warning or a log line would
                // be shown (Get-Tunnel still shows the status), so the change is dropped.
            }
        }
    }
}
