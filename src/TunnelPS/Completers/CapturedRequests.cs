using System.Collections;
using TunnelPS.Engine.Inspection;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>The captured exchanges a request completer offers values from: those of the -Tunnel typed on the line, else all.</summary>
internal static class CapturedRequests
{
    /// <summary>
    /// The exchanges of the tunnels named by the -Tunnel typed on the line (wildcards allowed), or of every tunnel and
    /// the imported requests when none is typed.
    /// </summary>
    internal static IEnumerable<CapturedExchange> Of(IDictionary? fakeBoundParameters)
    {
        string[]? tunnels = CompletionValue.Strings(fakeBoundParameters, "Tunnel");
        var stores = CaptureRegistry.Match(tunnels).Select(s => s.Store).ToList();
        if (tunnels is null)
        {
            stores.Add(CaptureRegistry.Imported);
        }

        return stores.SelectMany(s => s.Snapshot());
    }
}
