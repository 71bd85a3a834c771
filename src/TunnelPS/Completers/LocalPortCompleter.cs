using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Net;
using System.Net.NetworkInformation;
using TunnelPS.Session;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Start-Tunnel -Http and -Tcp with the TCP ports listening on this computer, in port order: the port alone
/// for a service reachable on localhost (loopback or every address), host:port for one bound to another address. A
/// typed "host:" prefix (localhost:30) completes to host:port. The tooltip says where it listens, and marks this
/// session's inspector and tunnel servers.
/// </summary>
/// <remarks>
/// The listeners come from <see cref="IPGlobalProperties.GetActiveTcpListeners"/> (the kernel's socket tables, no
/// process list): the owning process's name is not read, as that costs a scan of every process on Linux.
/// </remarks>
public sealed class LocalPortCompleter : SafeArgumentCompleter
{
    /// <summary>Listening ports (or host:port) that start with <paramref name="wordToComplete"/>, in port order.</summary>
    private protected override IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters) =>
        Candidates(wordToComplete);

    // Separate method so that the engine types are only needed once completion actually runs.
    private static List<CompletionResult> Candidates(string wordToComplete)
    {
        string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
        int colon = typed.LastIndexOf(':');
        string? typedHost = colon > 0 && !typed.EndsWith(']') ? typed[..colon] : null;
        WildcardPattern pattern = CompletionValue.Prefix(typed);

        Dictionary<int, string> ours = OwnPorts();
        var results = new List<CompletionResult>();
        foreach (IGrouping<int, IPEndPoint> port in IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners()
            .GroupBy(e => e.Port)
            .OrderBy(g => g.Key))
        {
            string number = port.Key.ToString(CultureInfo.InvariantCulture);
            string where = "listening on " + string.Join(", ", port.Select(Format).Distinct(StringComparer.Ordinal));
            string toolTip = ours.TryGetValue(port.Key, out string? what) ? $"{what}, {where}" : where;
            bool local = port.Any(e => IPAddress.IsLoopback(e.Address) || e.Address.Equals(IPAddress.Any) || e.Address.Equals(IPAddress.IPv6Any));
            IEnumerable<string> values = !local
                ? port.Select(Format).Distinct(StringComparer.Ordinal)
                : typedHost is null ? [number] : [typedHost + ":" + number];
            results.AddRange(values.Where(pattern.IsMatch).Select(v => CompletionValue.Result(v, toolTip)));
        }

        return results;
    }

    private static string Format(IPEndPoint endPoint) => endPoint.ToString();

    /// <summary>The ports this session listens on itself (its inspector and tunnel servers), with what they are.</summary>
    private static Dictionary<int, string> OwnPorts()
    {
        var ours = new Dictionary<int, string>();
        if (InspectorHost.Url is { } inspector)
        {
            ours[inspector.Port] = "this session's web inspector";
        }

        foreach (TunnelServer server in SessionRegistry.Servers)
        {
            ours[server.Port] = $"this session's tunnel server {server.ServerAddress}";
            if (server.HttpPort > 0)
            {
                ours[server.HttpPort] = $"this session's tunnel server {server.ServerAddress} (public http)";
            }
        }

        return ours;
    }
}
