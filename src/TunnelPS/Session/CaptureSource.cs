using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Session;

/// <summary>A tunnel's capture store and where replays of its requests go.</summary>
internal sealed class CaptureSource(string name, CaptureStore store, LocalTarget local, IReadOnlyList<string> publicUrls)
{
    /// <summary>The tunnel name.</summary>
    internal string Name { get; } = name;

    /// <summary>The tunnel's capture.</summary>
    internal CaptureStore Store { get; } = store;

    /// <summary>The local service the tunnel forwards to.</summary>
    internal LocalTarget Local { get; } = local;

    /// <summary>The public URLs the tunnel had.</summary>
    internal IReadOnlyList<string> PublicUrls { get; } = publicUrls;

    private long _reportedDropped;

    /// <summary>
    /// The evictions not reported yet: how many exchanges and bytes the store dropped since the last call, or null
    /// when none (each drop is reported once, by the first Get-TunnelRequest to see it).
    /// </summary>
    internal (long Count, long TotalCount, long TotalBytes)? TakeUnreportedDrops()
    {
        long dropped = Store.Dropped;
        long before = Interlocked.Exchange(ref _reportedDropped, dropped);
        return dropped > before ? (dropped - before, dropped, Store.DroppedBytes) : null;
    }

    /// <summary>The local service as an absolute URL, where replays are sent by default.</summary>
    internal Uri LocalUri => new UriBuilder(Local.UseTls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Local.Host, Local.Port).Uri;
}
