using System.Management.Automation;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;
using TunnelPS.Hosting;

namespace TunnelPS.Session;

/// <summary>
/// The process-wide table of capture stores the *-TunnelRequest cmdlets read: one per tunnel
/// name, registered by Start-Tunnel and kept after the tunnel stops (so its requests can
/// still be inspected, replayed with -Uri and exported) until Clear-TunnelRequest -All; plus
/// one store for imported requests.
/// </summary>
internal static class CaptureRegistry
{
    /// <summary>The name shown for the store of imported requests.</summary>
    internal const string ImportedStoreName = "(imported)";

    private static readonly object s_gate = new();
    private static readonly Dictionary<string, CaptureSource> s_sources = new(StringComparer.OrdinalIgnoreCase);
    private static CaptureStore s_imported;

    /// <summary>
    /// The memory budget every tunnel store of this session shares: together they hold at most the largest
    /// -InspectMemoryLimit among them (64 MiB by default), the oldest exchange of all going first.
    /// </summary>
    internal static CaptureBudget SessionBudget { get; } = new();

    static CaptureRegistry()
    {
        s_imported = NewImportedStore();
        // The session registry sets the removal action when it is first touched; touch it first so
        // that this store list is forgotten on Remove-Module too, after the tunnels stop.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(SessionRegistry).TypeHandle);
        ModuleInitializer.StopAllOnRemove += Reset;
    }

    /// <summary>Raised after a store is registered or the registry is reset (the web inspector shows the same stores).</summary>
    internal static event Action? Changed;

    /// <summary>The store of imported requests (and replays whose tunnel is unknown).</summary>
    internal static CaptureStore Imported
    {
        get
        {
            lock (s_gate)
            {
                return s_imported;
            }
        }
    }

    /// <summary>The tunnel stores, oldest registration first.</summary>
    internal static IReadOnlyList<CaptureSource> Sources
    {
        get
        {
            lock (s_gate)
            {
                return [.. s_sources.Values];
            }
        }
    }

    /// <summary>
    /// Registers the capture of every http/https tunnel of a started client (called by
    /// Start-Tunnel). A tunnel without capture (tcp, inspect off) is skipped, and the captures
    /// of an earlier tunnel of its name stay listed. A name seen before gets the new store,
    /// which takes over the requests of the earlier one (their ids unchanged).
    /// </summary>
    internal static void Register(TunnelClient client, IReadOnlyList<TunnelEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(endpoints);
        foreach (IGrouping<TunnelDefinition, TunnelEndpoint> group in endpoints.GroupBy(e => e.Definition))
        {
            CaptureStore? store = client.CaptureFor(group.Key);
            if (store is not null)
            {
                Register(group.Key.Name, store, group.Key.Local, group.Select(e => e.PublicUrl).ToArray());
            }
        }
    }

    /// <summary>Registers one tunnel's store under its name.</summary>
    internal static void Register(string tunnelName, CaptureStore store, LocalTarget local, IReadOnlyList<string> publicUrls)
    {
        ArgumentException.ThrowIfNullOrEmpty(tunnelName);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(local);
        var source = new CaptureSource(tunnelName, store, local, publicUrls);
        CaptureSource? replaced;
        lock (s_gate)
        {
            s_sources.Remove(tunnelName, out replaced);
            s_sources[tunnelName] = source;
        }

        if (replaced is not null && !ReferenceEquals(replaced.Store, store))
        {
            // The tunnel started again: its earlier requests join the new ones (Get-TunnelRequest's help promises
            // that requests of stopped tunnels are kept until Clear-TunnelRequest -All).
            replaced.Store.Budget = null;
            store.Adopt(replaced.Store);
        }

        store.Budget = SessionBudget;

        Changed?.Invoke();
    }

    /// <summary>The tunnel store of <paramref name="tunnelName"/>, or null.</summary>
    internal static CaptureSource? Find(string tunnelName)
    {
        lock (s_gate)
        {
            return s_sources.TryGetValue(tunnelName, out CaptureSource? source) ? source : null;
        }
    }

    /// <summary>The tunnel store that holds <paramref name="store"/>, or null (imported).</summary>
    internal static CaptureSource? Find(CaptureStore store)
    {
        lock (s_gate)
        {
            return s_sources.Values.FirstOrDefault(s => ReferenceEquals(s.Store, store));
        }
    }

    /// <summary>Tunnel stores whose name matches any of the patterns (all when none are given).</summary>
    internal static IReadOnlyList<CaptureSource> Match(string[]? patterns)
    {
        IReadOnlyList<CaptureSource> all = Sources;
        if (patterns is null || patterns.Length == 0)
        {
            return all;
        }

        WildcardPattern[] wildcards = patterns.Select(p => WildcardPattern.Get(p, WildcardOptions.IgnoreCase)).ToArray();
        return all.Where(s => wildcards.Any(w => w.IsMatch(s.Name))).ToList();
    }

    /// <summary>
    /// The store of imported requests: the default limits of a tunnel's capture (1000 requests, 64 MiB), in the session's
    /// budget with the tunnels' stores without widening it, so an import is held to the same memory as live traffic.
    /// </summary>
    private static CaptureStore NewImportedStore() => new() { WidensBudget = false, Budget = SessionBudget };

    /// <summary>Every store: the tunnel stores, then the imported one.</summary>
    internal static IReadOnlyList<CaptureStore> AllStores()
    {
        lock (s_gate)
        {
            var stores = s_sources.Values.Select(s => s.Store).ToList();
            stores.Add(s_imported);
            return stores;
        }
    }

    /// <summary>
    /// Forgets the stores of tunnels that are not running and the imported requests (Clear-TunnelRequest -All): the
    /// stores of running tunnels stay listed, so their next requests are still found.
    /// </summary>
    internal static void ForgetStopped(IReadOnlySet<string> runningTunnelNames)
    {
        ArgumentNullException.ThrowIfNull(runningTunnelNames);
        var forgotten = new List<CaptureSource>();
        CaptureStore oldImported;
        lock (s_gate)
        {
            foreach (string name in s_sources.Keys.Where(n => !runningTunnelNames.Contains(n)).ToList())
            {
                s_sources.Remove(name, out CaptureSource? source);
                forgotten.Add(source!);
            }

            oldImported = s_imported;
            s_imported = NewImportedStore();
        }

        forgotten.ForEach(f => f.Store.Budget = null);
        oldImported.Budget = null;

        Changed?.Invoke();
    }

    /// <summary>Forgets every store (module removal): running tunnels keep capturing into theirs.</summary>
    internal static void Reset()
    {
        List<CaptureSource> forgotten;
        CaptureStore oldImported;
        lock (s_gate)
        {
            forgotten = [.. s_sources.Values];
            s_sources.Clear();
            oldImported = s_imported;
            s_imported = NewImportedStore();
        }

        forgotten.ForEach(f => f.Store.Budget = null);
        oldImported.Budget = null;

        Changed?.Invoke();
    }
}
