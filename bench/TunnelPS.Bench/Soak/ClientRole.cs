using System.Globalization;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The soak's client child: one TunnelClient with the defaults (capture on) holding the tunnels the traffic uses:
/// "app" (http+https) and "garbage" (http, to a service that answers garbage) to the parent's services, and
/// <c>idle</c> more http+https tunnels for the idle visitors (a tunnel takes at most 512 visitor connections by
/// default). Arguments: the flag, server TLS port, thumbprint, token, prefix of the names, app port, garbage port (0:
/// none), idle tunnels. The churn also starts this role (app tunnel only) and kills it.
/// </summary>
internal static class ClientRole
{
    public const string Flag = "--soak-client";

    public static async Task<int> RunAsync(string[] args)
    {
        var serverPort = int.Parse(args[1], CultureInfo.InvariantCulture);
        var thumbprint = args[2];
        var token = args[3];
        var prefix = args[4];
        var appPort = int.Parse(args[5], CultureInfo.InvariantCulture);
        var garbagePort = int.Parse(args[6], CultureInfo.InvariantCulture);
        var idleTunnels = int.Parse(args[7], CultureInfo.InvariantCulture);

        var definitions = new List<TunnelDefinition>
        {
            Definition(prefix + "-app", ["http", "https"], appPort),
        };
        if (garbagePort > 0)
        {
            definitions.Add(Definition(prefix + "-garbage", ["http"], garbagePort));
        }
        for (var i = 0; i < idleTunnels; i++)
        {
            definitions.Add(Definition(string.Create(CultureInfo.InvariantCulture, $"{prefix}-idle-{i}"), ["http", "https"], appPort));
        }
        using var host = new ChildHost("client");
        await using var client = new TunnelClient(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", serverPort),
            Trust = new ServerTrust { PinnedThumbprint = thumbprint },
            AuthToken = token,
            Tunnels = definitions,
            LoggerFactory = host.LoggerFactory(),
        });
        var endpoints = await client.StartAsync();
        await host.RunAsync(
            new ClientReady(client.ClientId, [.. endpoints.Select(e => e.PublicUrl)], Environment.ProcessId),
            () => null,
            () => Figures(client, host));
        return 0;
    }

    private static TunnelDefinition Definition(string name, IReadOnlyList<string> protocols, int port) => new()
    {
        Name = name,
        Protocols = protocols,
        Local = new LocalTarget("127.0.0.1", port),
        Subdomain = name,
    };

    private static ClientFigures Figures(TunnelClient client, ChildHost host)
    {
        var exchanges = 0;
        long bodies = 0;
        foreach (var definition in client.Options.Tunnels)
        {
            if (client.CaptureFor(definition) is { } store)
            {
                foreach (var exchange in store.Snapshot())
                {
                    exchanges++;
                    bodies += exchange.RequestBody.Length + exchange.ResponseBody.Length;
                }
            }
        }
        return new ClientFigures
        {
            Status = client.Status.ToString(),
            ClientId = client.ClientId,
            ActiveWork = client.ActiveWorkCount,
            ProxyDials = client.ProxyDialCount,
            Tunnels = client.Endpoints.Count,
            CapturedExchanges = exchanges,
            CapturedBodyBytes = bodies,
            Counters = host.Counters.ToDictionary(StringComparer.Ordinal),
            Logs = host.Logs.ToDictionary(StringComparer.Ordinal),
        };
    }

    /// <summary>The READY line's content.</summary>
    internal sealed record ClientReady(string ClientId, string[] Urls, int Pid);
}
