using System.Text;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Tests.Inspection;

namespace TunnelPS.Engine.Tests.Inspector;

public sealed class InspectorClientTests
{
    [Fact]
    public async Task Reads_exchanges_as_they_were_captured()
    {
        await using var host = InspectorTestHost.Start();
        var original = host.Add("POST", "/api/items?x=1", 201, requestBody: "{\"name\":\"é\"}", responseBody: "created", gzip: true,
            requestHeaders: [new("Content-Type", "application/json"), new("Set-Cookie", "a=1"), new("set-cookie", "b=2")]);
        host.Add("GET", "/other", 404);
        using var client = new InspectorClient(host.Server.Url);

        var summaries = await client.GetSummariesAsync(new InspectorQuery { Methods = ["POST"] }, CancellationToken.None);
        var summary = Assert.Single(summaries);
        Assert.Equal(original.Id, summary.Id);
        Assert.True(summary.RequestBody.IsEmpty);

        var read = await client.GetRequestAsync(original.Id, CancellationToken.None);
        Assert.Equal(original.Id, read.Id);
        Assert.Equal(original.Method, read.Method);
        Assert.Equal(original.Target, read.Target);
        Assert.Equal(original.Url, read.Url);
        Assert.Equal(original.RequestHeaders, read.RequestHeaders);
        Assert.Equal(original.RequestBody.ToArray(), read.RequestBody.ToArray());
        Assert.Equal(original.ResponseHeaders, read.ResponseHeaders);
        Assert.Equal(original.ResponseBody.ToArray(), read.ResponseBody.ToArray());
        Assert.Equal(original.Status, read.Status);
        Assert.Equal(original.Reason, read.Reason);
        Assert.Equal(original.Duration, read.Duration);
        Assert.Equal(original.StartTime, read.StartTime);
        Assert.Equal(original.TunnelName, read.TunnelName);
        Assert.Equal(original.ClientAddress, read.ClientAddress);
    }

    [Fact]
    public async Task Replays_through_the_api_and_reports_failures_with_the_inspector_s_message()
    {
        await using var target = new TestHttpServer((_, body) => TestHttpServer.Response(200, "OK", "got " + Encoding.UTF8.GetString(body)));
        await using var host = InspectorTestHost.Start(replayTarget: target.Uri);
        var original = host.Add("POST", "/hook", 500, requestBody: "one");
        using var client = new InspectorClient(new Uri(host.Server.Url, "/ignored/path"));

        var replay = await client.ReplayAsync(original.Id, new ReplayOptions { Body = "two"u8.ToArray(), SetHeaders = new Dictionary<string, string> { ["X-A"] = "1" } }, null, false, CancellationToken.None);

        Assert.True(replay.IsReplay);
        Assert.Equal(original.Id, replay.ReplayOf);
        Assert.Equal("got two", Encoding.UTF8.GetString(replay.ResponseBody.Span));
        Assert.Equal("1", Assert.Single(target.Received).Head.Headers["X-A"]);

        var missing = await Assert.ThrowsAsync<InspectorException>(() => client.GetRequestAsync(987654321, CancellationToken.None));
        Assert.Equal(TunnelErrorKind.NotFound, missing.Kind);
        Assert.Contains("987654321", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_inspector_that_is_not_there_is_a_connection_error()
    {
        using var client = new InspectorClient(new Uri("http://127.0.0.1:1"));

        var ex = await Assert.ThrowsAsync<InspectorException>(() => client.GetSummariesAsync(null, CancellationToken.None));

        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Contains("http://127.0.0.1:1/", ex.Message, StringComparison.Ordinal);
    }
}
