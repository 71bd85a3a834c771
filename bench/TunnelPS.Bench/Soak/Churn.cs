using System.Globalization;
using System.Net.Sockets;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// Tunnel clients that come and go, with both tenants' tokens: in-process TunnelClients that log in, open 1-3 http
/// tunnels (and now and then a tcp one), serve a few requests, and then stop cleanly, are aborted (the control
/// connection cut without a goodbye, names left reserved for the reconnect grace), or are aborted and reconnect; the
/// second tenant now and then asks for a name reserved for the first. Besides, a client child process is started and
/// killed with SIGKILL at intervals.
/// </summary>
internal sealed class Churn(SoakContext context, Func<string, string, Task<ChildProcessHandle>> startKilledClient)
{
    public const string Sessions = "churn: tunnel clients";
    public const string Killed = "churn: client process killed (SIGKILL)";

    private long _iterations;

    private Outcomes Outcomes => context.Outcomes;

    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        context.RepeatAsync(Sessions, TimeSpan.FromMilliseconds(200), t => OneClientAsync(0, t), stop),
        context.RepeatAsync(Sessions, TimeSpan.FromMilliseconds(200), t => OneClientAsync(1, t), stop),
        context.RepeatAsync(Killed, context.Options.Quick ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(45), KilledClientAsync, stop));

    private async Task OneClientAsync(int worker, CancellationToken stop)
    {
        var iteration = Interlocked.Increment(ref _iterations);
        var beta = (iteration + worker) % 2 == 0;
        var token = beta ? context.BetaToken : context.AlphaToken;
        var tenant = beta ? "beta" : "alpha";
        if (beta && iteration % 5 == 0)
        {
            await ReservedNameRefusedAsync(stop);
        }
        var definitions = new List<TunnelDefinition>();
        for (var i = Random.Shared.Next(1, 4); i > 0; i--)
        {
            definitions.Add(new TunnelDefinition
            {
                Name = string.Create(CultureInfo.InvariantCulture, $"churn-{iteration}-{i}"),
                Protocols = ["http"],
                Local = new LocalTarget("127.0.0.1", context.Endpoints.AppPort),
                // Half get a chosen name, half a random one from the server.
                Subdomain = i % 2 == 0 ? null : string.Create(CultureInfo.InvariantCulture, $"churn-{iteration}-{i}"),
            });
        }
        if (iteration % 4 == 0)
        {
            definitions.Add(new TunnelDefinition { Name = "churn-tcp", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", context.Endpoints.AppPort) });
        }
        var client = new TunnelClient(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", context.Endpoints.TlsPort),
            Trust = new ServerTrust { PinnedThumbprint = context.Endpoints.Thumbprint },
            AuthToken = token,
            Tunnels = definitions,
        });
        var ending = Random.Shared.Next(100);
        try
        {
            await client.StartAsync(stop);
            context.LiveClientIds.TryAdd(client.ClientId, 0);
            Outcomes.Add(Sessions, "logged in, " + tenant);
            await VisitAllAsync(client, "after login", stop);
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1000, 5000)), stop);
            if (ending < 30)
            {
                context.LiveClientIds.TryRemove(client.ClientId, out _);
                client.AbortControlForTest();
                Outcomes.Add(Sessions, "ended: aborted, names left reserved");
            }
            else if (ending < 50)
            {
                client.AbortControlForTest();
                using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
                // The client notices the cut when its receive loop fails (its status leaves Online), and only then reconnects.
                while (client.Status == TunnelStatus.Online)
                {
                    await Task.Delay(10, deadline.Token);
                }
                while (client.Status != TunnelStatus.Online || client.Endpoints.Any(e => e.Status != TunnelStatus.Online))
                {
                    await Task.Delay(50, deadline.Token);
                }
                await VisitAllAsync(client, "after reconnect", stop);
                Outcomes.Add(Sessions, "ended: aborted, reconnected, served, stopped");
            }
            else
            {
                Outcomes.Add(Sessions, "ended: stopped cleanly");
            }
        }
        finally
        {
            context.LiveClientIds.TryRemove(client.ClientId, out _);
            await client.DisposeAsync();
        }
    }

    /// <summary>The second tenant asks for a name the token file reserves for the first: the server must refuse it.</summary>
    private async Task ReservedNameRefusedAsync(CancellationToken stop)
    {
        var thief = new TunnelClient(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", context.Endpoints.TlsPort),
            Trust = new ServerTrust { PinnedThumbprint = context.Endpoints.Thumbprint },
            AuthToken = context.BetaToken,
            Tunnels = [new TunnelDefinition { Name = "thief", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", context.Endpoints.AppPort), Subdomain = "alpha-reserved" }],
        });
        try
        {
            await thief.StartAsync(stop);
            Outcomes.Add(Sessions, "UNEXPECTED: beta got alpha's reserved name");
        }
        catch (TunnelRequestException ex) when (ex.Message.Contains("reserved", StringComparison.Ordinal))
        {
            Outcomes.Add(Sessions, "expected: beta refused alpha's reserved name");
        }
        finally
        {
            await thief.DisposeAsync();
        }
    }

    /// <summary>Two requests through each http tunnel of the client, one through a tcp tunnel.</summary>
    private async Task VisitAllAsync(TunnelClient client, string when, CancellationToken stop)
    {
        foreach (var endpoint in client.Endpoints)
        {
            var url = new Uri(endpoint.PublicUrl);
            for (var i = 0; i < (endpoint.Protocol == "tcp" ? 1 : 2); i++)
            {
                using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
                HttpWire wire;
                if (endpoint.Protocol == "tcp")
                {
                    var socket = await Loopback.ConnectAsync(context.NextSource(SoakContext.TrafficBlock), url.Port, deadline.Token);
                    wire = new HttpWire(new NetworkStream(socket, ownsSocket: true));
                }
                else
                {
                    wire = await Loopback.VisitAsync(context.Endpoints, context.NextSource(SoakContext.TrafficBlock), url.Host, tls: false, deadline.Token);
                }
                await using (wire.Stream)
                {
                    await wire.Stream.WriteAsync(Loopback.Get(url.Host, "/small"), deadline.Token);
                    var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response " + when);
                    var body = await wire.ReadSmallBodyAsync(head, deadline.Token);
                    Outcomes.Add(Sessions, head.Status == 200
                        ? "request served, " + endpoint.Protocol
                        : string.Create(CultureInfo.InvariantCulture, $"error: status {head.Status} {when} ({Title(body)})"));
                }
            }
        }
    }

    /// <summary>The title of a TunnelPS error page, or the start of another body.</summary>
    internal static string Title(string body)
    {
        var start = body.IndexOf("<title>", StringComparison.OrdinalIgnoreCase);
        var end = body.IndexOf("</title>", StringComparison.OrdinalIgnoreCase);
        return start >= 0 && end > start ? body[(start + 7)..end] : body[..Math.Min(body.Length, 60)];
    }

    /// <summary>A client child logs in (beta), serves three requests, and is killed with SIGKILL.</summary>
    private async Task KilledClientAsync(CancellationToken stop)
    {
        var prefix = string.Create(CultureInfo.InvariantCulture, $"killed-{Interlocked.Increment(ref _iterations)}");
        using var child = await startKilledClient(prefix, context.BetaToken);
        var host = prefix + "-app.localhost";
        for (var i = 0; i < 3; i++)
        {
            using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
            var wire = await Loopback.VisitAsync(context.Endpoints, context.NextSource(SoakContext.TrafficBlock), host, tls: i == 1, deadline.Token);
            await using (wire.Stream)
            {
                await wire.Stream.WriteAsync(Loopback.Get(host, "/small"), deadline.Token);
                var head = await wire.ReadHeadAsync(deadline.Token) ?? throw new EndOfStreamException("closed before the response");
                await wire.SkipBodyAsync(head, isResponse: true, deadline.Token);
                Outcomes.Add(Killed, head.Status == 200 ? "request served" : "error: status " + head.Status.ToString(CultureInfo.InvariantCulture));
            }
        }
        await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(500, 3000)), stop);
        child.Kill();
        Outcomes.Add(Killed, "killed");
    }
}
