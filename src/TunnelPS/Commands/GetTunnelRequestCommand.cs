using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Get-TunnelRequest</c>: the captured HTTP exchanges of this session's tunnels (running or
/// stopped) and imported ones, filtered, oldest first (newest last).
/// </summary>
[Cmdlet(VerbsCommon.Get, "TunnelRequest")]
[OutputType(typeof(TunnelRequest))]
public sealed partial class GetTunnelRequestCommand : TunnelRequestFilterCommand
{
    /// <summary>-Source: the requests captured by the session's tunnels.</summary>
    public const string LiveSource = "Live";

    /// <summary>-Source: the requests read by Import-TunnelRequest.</summary>
    public const string ImportedSource = "Imported";

    /// <summary>-Source: both.</summary>
    public const string AllSource = "All";

    private readonly List<string> _tunnels = [];
    private bool _tunnelGiven;

    /// <summary>Only requests of tunnels with these names (wildcards allowed); takes Tunnel objects' Name from the pipeline.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HttpTunnelNameCompleter))]
    public string[]? Tunnel { get; set; }

    /// <summary>Only the requests with these ids.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CapturedRequestIdCompleter))]
    public long[]? Id { get; set; }

    /// <summary>Only requests that started at or after this time.</summary>
    [Parameter]
    public DateTime Since { get; set; }

    /// <summary>
    /// Which requests: Live (the default: those captured by this session's tunnels, replays included), Imported (read by
    /// Import-TunnelRequest, and replays of them), or All. With -Id and no -Source, All.
    /// </summary>
    [Parameter]
    [ValidateSet(LiveSource, ImportedSource, AllSource)]
    public string Source { get; set; } = LiveSource;

    /// <summary>Only the oldest N matching requests.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int First { get; set; } = -1;

    /// <summary>Only the newest N matching requests.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int Last { get; set; } = -1;

    /// <summary>Collects tunnel names given directly or from the pipeline (Get-Tunnel | Get-TunnelRequest).</summary>
    protected override void ProcessRecord()
    {
        if (Tunnel is not null)
        {
            _tunnelGiven = true;
            _tunnels.AddRange(Tunnel.Where(t => !_tunnels.Contains(t, StringComparer.OrdinalIgnoreCase)));
        }
    }

    /// <summary>Writes the matching requests, newest last.</summary>
    protected override void EndProcessing()
    {
        if (InspectUrl is not null)
        {
            WriteRemote(_tunnelGiven ? [.. _tunnels] : null); // inspector: GetTunnelRequestCommand.Remote.cs
            base.EndProcessing();
            return;
        }

        WriteObject(Select(_tunnelGiven ? [.. _tunnels] : null), enumerateCollection: true);
        WriteDropsWarning();
        WriteTunnelsNotFound();
        if (Id is not null)
        {
            foreach (long id in Id)
            {
                if (!Stores().Any(s => s.Get(id) is not null))
                {
                    string elsewhere = CaptureRegistry.AllStores().Any(s => s.Get(id) is not null)
                        ? $" It is not among the {EffectiveSource.ToLowerInvariant()} requests: use -Source All."
                        : " It may have been cleared or evicted from the capture (Get-TunnelRequest lists what is held).";
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No {(EffectiveSource == AllSource ? "captured or imported" : EffectiveSource.ToLowerInvariant())} request has id {id}.{elsewhere}"),
                        ErrorIds.RequestNotFound,
                        ErrorCategory.ObjectNotFound,
                        id));
                }
            }
        }

        base.EndProcessing();
    }

    /// <summary>
    /// TunnelNotFound for each -Tunnel name without wildcards that is no tunnel of the session (running, or stopped
    /// with its capture kept) and no tunnel of an imported request, as Get-Tunnel does for a name it does not know.
    /// A running tunnel that captures nothing (tcp, -NoInspect) is known: it just has no requests.
    /// </summary>
    private void WriteTunnelsNotFound()
    {
        foreach (string name in _tunnels.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
        {
            bool live = CaptureRegistry.Find(name) is not null
                || SessionRegistry.Tunnels.Any(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
            bool imported = CaptureRegistry.Imported.Snapshot().Any(e => string.Equals(e.TunnelName, name, StringComparison.OrdinalIgnoreCase));
            bool known = EffectiveSource switch
            {
                LiveSource => live,
                ImportedSource => imported,
                _ => live || imported,
            };
            if (!known)
            {
                string hint = EffectiveSource == LiveSource && imported
                    ? $"No tunnel named '{name}' runs or has captured requests in this session, but imported requests name it: use -Source Imported (or All)."
                    : EffectiveSource == ImportedSource && live
                        ? $"No imported request names the tunnel '{name}'; it is a tunnel of this session: use -Source Live (the default) or All."
                        : $"No tunnel named '{name}' runs or has captured requests in this session. Get-Tunnel lists the running tunnels, and Get-TunnelRequest without -Tunnel every captured request.";
                WriteError(new ErrorRecord(
                    new ItemNotFoundException(hint),
                    ErrorIds.TunnelNotFound,
                    ErrorCategory.ObjectNotFound,
                    name));
            }
        }
    }

    /// <summary>-Source as given, or All when only -Id narrows the search.</summary>
    private string EffectiveSource =>
        MyInvocation.BoundParameters.ContainsKey(nameof(Source)) || Id is null ? Source : AllSource;

    /// <summary>The stores -Source selects: the tunnels' (live), the imported one, or both.</summary>
    private List<CaptureStore> Stores()
    {
        var stores = new List<CaptureStore>();
        if (EffectiveSource != ImportedSource)
        {
            stores.AddRange(CaptureRegistry.Sources.Select(s => s.Store));
        }

        if (EffectiveSource != LiveSource)
        {
            stores.Add(CaptureRegistry.Imported);
        }

        return stores;
    }

    /// <summary>
    /// One warning per tunnel whose capture evicted requests since the last Get-TunnelRequest: how many, how many bytes
    /// in all, the limits it keeps to, and how to keep more.
    /// </summary>
    private void WriteDropsWarning()
    {
        if (EffectiveSource == ImportedSource)
        {
            return;
        }

        foreach (CaptureSource source in CaptureRegistry.Match(_tunnelGiven ? [.. _tunnels] : null))
        {
            if (source.TakeUnreportedDrops() is { } drops)
            {
                CaptureStore store = source.Store;
                WriteWarning(string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"The capture of tunnel '{source.Name}' dropped {drops.Count} older request(s) to stay within its limits of {store.Capacity} requests and {FormatBytes(store.MaxBytes)} ({drops.TotalCount} request(s), {FormatBytes(drops.TotalBytes)} dropped in all). Start-Tunnel -InspectLimit and -InspectMemoryLimit keep more; Get-Tunnel shows CaptureDroppedCount and CaptureDroppedBytes."));
            }
        }
    }

    private static string FormatBytes(long bytes) => bytes >= 1024 * 1024
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MiB")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB");

    private List<TunnelRequest> Select(string[]? tunnels)
    {
        var filter = CreateFilter(tunnels, Id);
        DateTimeOffset? since = MyInvocation.BoundParameters.ContainsKey(nameof(Since)) ? new DateTimeOffset(Since) : null;
        var selected = new List<TunnelRequest>();
        foreach (CaptureStore store in Stores())
        {
            foreach (CapturedExchange exchange in store.Snapshot())
            {
                if (filter.IsMatch(exchange) && (since is null || exchange.StartTime >= since))
                {
                    selected.Add(new TunnelRequest(exchange, store));
                }
            }
        }

        // Stable: within one store, id order; across stores, by start time.
        return TakeFirstLast([.. selected.OrderBy(r => r.StartTime)]);
    }

    /// <summary>-First, then -Last, of <paramref name="ordered"/> (oldest first).</summary>
    private List<T> TakeFirstLast<T>(List<T> ordered)
    {
        if (First >= 0)
        {
            ordered = ordered.Take(First).ToList();
        }

        if (Last >= 0)
        {
            ordered = ordered.Skip(Math.Max(0, ordered.Count - Last)).ToList();
        }

        return ordered;
    }
}
