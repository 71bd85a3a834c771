using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class ExchangeReplayerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static CapturedExchange Original(CaptureStore store) => store.Add(new CapturedExchange
    {
        TunnelName = "web",
        Method = "POST",
        Target = "/items?x=1",
        Host = "web.example.com",
        RequestHeaders =
        [
            new("Host", "web.example.com"),
            new("Content-Type", "application/json"),
            new("Transfer-Encoding", "chunked"),
            new("X-Keep", "1"),
            new("X-Drop", "2"),
        ],
        RequestBody = Encoding.UTF8.GetBytes("{\"a\":1}"),
        RequestBodySize = 7,
        Status = 500,
    });

    [Fact]
    public async Task ReplaysToARealServerAndStoresTheResult()
    {
        await using var server = new TestHttpServer((head, body) =>
            TestHttpServer.Response(201, "Created", "got " + Encoding.UTF8.GetString(body), "Content-Type: text/plain"));
        var store = new CaptureStore();
        var original = Original(store);

        var replay = await new ExchangeReplayer().ReplayAsync(original, server.Uri, store, null, CancellationToken.None).WaitAsync(Deadline);

        Assert.True(replay.IsReplay);
        Assert.Equal(original.Id, replay.ReplayOf);
        Assert.Equal(201, replay.Status);
        Assert.Equal("got {\"a\":1}", Encoding.UTF8.GetString(replay.ResponseBody.Span));
        Assert.Same(replay, store.Get(replay.Id));
        var (head, received) = Assert.Single(server.Received);
        Assert.Equal("POST", head.Method);
        Assert.Equal("/items?x=1", head.Target);
        Assert.Equal($"127.0.0.1:{server.Port}", head.Host);
        Assert.Equal("7", head.Headers["Content-Length"]);
        Assert.Null(head.Headers["Transfer-Encoding"]);
        Assert.Equal("1", head.Headers["X-Keep"]);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(received));
    }

    [Fact]
    public async Task AppliesModifications()
    {
        await using var server = new TestHttpServer((_, _) => TestHttpServer.Response(200, "OK", "fine"));
        var store = new CaptureStore();
        var options = new ReplayOptions
        {
            Method = "PUT",
            Target = "/other",
            SetHeaders = new Dictionary<string, string> { ["X-New"] = "n", ["X-Keep"] = "changed" },
            RemoveHeaders = ["X-Drop"],
            Body = Encoding.UTF8.GetBytes("replaced body"),
            KeepOriginalHost = true,
        };
        var replay = await new ExchangeReplayer().ReplayAsync(Original(store), server.Uri, store, options, CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal(200, replay.Status);
        var (head, body) = Assert.Single(server.Received);
        Assert.Equal(("PUT", "/other", "web.example.com"), (head.Method, head.Target, head.Host));
        Assert.Equal("changed", head.Headers["X-Keep"]);
        Assert.Equal("n", head.Headers["X-New"]);
        Assert.Null(head.Headers["X-Drop"]);
        Assert.Equal("13", head.Headers["Content-Length"]);
        Assert.Equal("replaced body", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task ReadsChunkedAndUntilCloseResponses()
    {
        await using var server = new TestHttpServer((head, _) => head.Target == "/chunked"
            ? Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            : Encoding.ASCII.GetBytes("HTTP/1.0 200 OK\r\n\r\nuntil close"));
        var store = new CaptureStore();
        var chunked = await new ExchangeReplayer().ReplayAsync(new CapturedExchange { Method = "GET", Target = "/chunked" }, server.Uri, store, null, CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal("abcde", Encoding.ASCII.GetString(chunked.ResponseBody.Span));
        Assert.Null(chunked.ReplayOf);
        var close = await new ExchangeReplayer().ReplayAsync(new CapturedExchange { Method = "GET", Target = "/close" }, server.Uri, store, null, CancellationToken.None).WaitAsync(Deadline);
        Assert.Equal("until close", Encoding.ASCII.GetString(close.ResponseBody.Span));
    }

    [Fact]
    public async Task ConnectionRefusedNamesTheTarget()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var target = new Uri($"http://127.0.0.1:{port}/");
        var ex = await Assert.ThrowsAsync<ReplayException>(() =>
            new ExchangeReplayer().ReplayAsync(new CapturedExchange { Method = "GET", Target = "/" }, target, new CaptureStore(), null, CancellationToken.None).WaitAsync(Deadline));
        Assert.Contains(target.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Contains("refused", ex.Message, StringComparison.Ordinal);
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
    }

    [Fact]
    public async Task ASilentServerTimesOut()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var target = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        var ex = await Assert.ThrowsAsync<ReplayException>(() =>
            new ExchangeReplayer().ReplayAsync(new CapturedExchange { Method = "GET", Target = "/" }, target, new CaptureStore(),
                new ReplayOptions { Timeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None).WaitAsync(Deadline));
        Assert.Equal(TunnelErrorKind.Timeout, ex.Kind);
        Assert.Contains(target.ToString(), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timeout_quotes_the_captured_method_and_target_with_their_controls_shown()
    {
        // A HAR file (or a capture) can hold any method and target; the message reaches the admin's terminal.
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var target = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        var time = new FakeTimeProvider();
        var original = new CapturedExchange { Method = "GET\u009b2J", Target = "/\u001b]0;pwned\u0007\u001b[2J" };

        Task<CapturedExchange> replay = new ExchangeReplayer(time).ReplayAsync(original, target, new CaptureStore(), new ReplayOptions { Timeout = TimeSpan.FromSeconds(30) }, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(30));
        var ex = await Assert.ThrowsAsync<ReplayException>(() => replay.WaitAsync(Deadline));

        Assert.Equal(TunnelErrorKind.Timeout, ex.Kind);
        Assert.StartsWith(@"Replaying GET\u009B2J /␛]0;pwned␇␛[2J to ", ex.Message, StringComparison.Ordinal);
    }
}
