using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace TunnelPS.Engine.Tests.Inspector;

/// <summary>Replays in flight are bounded (docs/limits.md, "The web inspector"): one more than the limit is told to come back.</summary>
public sealed class InspectorReplayBoundTests
{
    [Fact]
    public async Task A_replay_beyond_the_most_in_flight_gets_429_and_the_others_finish()
    {
        // A local service that takes connections and never answers until the test lets them go.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await listener.AcceptSocketAsync();
                    lock (held)
                    {
                        held.Add(socket);
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // The listener stopped at the end of the test.
            }
        });
        var target = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        await using var host = InspectorTestHost.Start(replayTarget: target, configure: o => o with { MaxConcurrentReplays = 2 });
        var original = host.Add("POST", "/hook", 500, requestBody: "x");
        var body = $$"""{"id": {{original.Id}}}""";

        var inFlight = new[]
        {
            host.SendAsync(HttpMethod.Post, "/api/requests/http", body),
            host.SendAsync(HttpMethod.Post, "/api/requests/http", body),
        };
        await WaitUntilAsync(() => { lock (held) { return held.Count == 2; } }, "both replays reach the local service");

        using (var refused = await host.SendAsync(HttpMethod.Post, "/api/requests/http", body))
        {
            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.Contains("2 replays are running", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        lock (held)
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
        foreach (var replay in inFlight)
        {
            using var finished = await replay.WaitAsync(InspectorTestHost.Deadline);
            Assert.Equal(HttpStatusCode.BadGateway, finished.StatusCode);
        }
        listener.Stop();
        await accepting.WaitAsync(InspectorTestHost.Deadline);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + InspectorTestHost.Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting until " + what);
            }
            await Task.Delay(10);
        }
    }
}
