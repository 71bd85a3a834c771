using System.Net.Http;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Inspector;

public sealed class InspectorEventStreamTests
{
    [Fact]
    public async Task A_request_through_a_tunnel_reaches_an_open_stream()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "live", "live")));
        var endpoints = await client.StartAsync();
        var store = client.CaptureFor(endpoints[0].Definition)!;
        await using var inspector = InspectorServer.Start(new InspectorOptions { Address = new InspectorAddress(System.Net.IPAddress.Loopback, 0) });
        inspector.Catalog.SetCaptures([new InspectedCapture("live", store, new Uri($"http://127.0.0.1:{local.Port}/"))]);
        inspector.Catalog.AddClient(client);

        using var http = new HttpClient { BaseAddress = inspector.Url, Timeout = InspectorTestHost.Deadline };
        using var response = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
        await ReadEventAsync(events, "ready");

        using var visitor = TunnelHarness.Visitor();
        Assert.Equal("hello GET /seen?x=1", await visitor.GetStringAsync(endpoints[0].PublicUrl + "/seen?x=1"));

        var data = await ReadEventAsync(events, "request");
        Assert.Contains("\"uri\":\"/seen?x=1\"", data, StringComparison.Ordinal);
        Assert.Contains("\"tunnel_name\":\"live\"", data, StringComparison.Ordinal);

        var tunnels = await http.GetStringAsync("/api/tunnels");
        Assert.Contains($"\"public_url\":\"{endpoints[0].PublicUrl}\"", tunnels, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"online\"", tunnels, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stores_are_watched_only_while_a_stream_is_open_and_a_lagging_stream_is_ended()
    {
        await using var host = InspectorTestHost.Start(configure: o => o with { MaxEventBacklog = 4 });
        var subscriber = host.Server.Events.Subscribe()!;

        for (var i = 0; i < 10; i++)
        {
            host.Add("GET", "/flood/" + i);
        }

        await TunnelHarness.WaitUntilAsync(() => subscriber.Lagged, "the subscriber that reads nothing falls behind");
        host.Server.Events.Unsubscribe(subscriber);
        Assert.Equal(0, host.Server.Events.SubscriberCount);
    }

    [Fact]
    public void An_event_is_one_data_line()
    {
        var json = InspectorJson.Write(w => InspectorJson.WriteExchange(w, new CapturedExchange { Method = "GET", Target = "/a\nb", RequestHeaders = [new("X", "line1\r\nline2")] }, bodies: false));

        var encoded = Encoding.UTF8.GetString(InspectorEvents.Encode("request", json));

        Assert.StartsWith("event: request\ndata: {", encoded, StringComparison.Ordinal);
        Assert.EndsWith("}\n\n", encoded, StringComparison.Ordinal);
        Assert.Equal(3, encoded.Split('\n').Length - 1);
        Assert.DoesNotContain("<", encoded, StringComparison.Ordinal);
    }

    private static async Task<string> ReadEventAsync(StreamReader events, string name)
    {
        using var deadline = new CancellationTokenSource(InspectorTestHost.Deadline);
        string? current = null;
        while (true)
        {
            var line = await events.ReadLineAsync(deadline.Token) ?? throw new EndOfStreamException("The event stream ended.");
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                current = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && current == name)
            {
                return line[6..];
            }
        }
    }
}
