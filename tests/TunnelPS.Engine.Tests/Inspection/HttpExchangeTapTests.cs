using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class HttpExchangeTapTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private static string S(ReadOnlyMemory<byte> m) => Encoding.Latin1.GetString(m.Span);

    private static (CaptureStore Store, HttpExchangeTap Tap, FakeTimeProvider Time) Create(int maxBody = CaptureStore.DefaultMaxBodySize)
    {
        var store = new CaptureStore { MaxBodySize = maxBody };
        var time = new FakeTimeProvider(new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tap = ConnectionCapture.CreateTap(store, new CaptureContext
        {
            TunnelName = "web",
            PublicUrl = "https://web.example.com",
            LocalAddress = "localhost:3000",
            ConnectionId = 42,
            ClientAddress = "203.0.113.9:5000",
            TimeProvider = time,
        });
        return (store, tap, time);
    }

    private const string Requests =
        "GET /a?x=1 HTTP/1.1\r\nHost: web.example.com\r\nAccept: */*\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n" +
        "POST /chunked HTTP/1.1\r\nHost: web.example.com\r\nTransfer-Encoding: chunked\r\n\r\n4;e=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n" +
        "HEAD /head HTTP/1.1\r\nHost: web.example.com\r\n\r\n" +
        "DELETE /nc HTTP/1.1\r\nHost: web.example.com\r\n\r\n" +
        "GET /cached HTTP/1.1\r\nHost: web.example.com\r\nIf-None-Match: \"x\"\r\n\r\n" +
        "PUT /upload HTTP/1.1\r\nHost: web.example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello";

    private const string Responses =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi" +
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nServer-Timing: x\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n" +
        "HTTP/1.1 204 No Content\r\n\r\n" +
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n" +
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";

    private static void AssertKeepAliveExchanges(CaptureStore store)
    {
        var all = store.Snapshot();
        Assert.Equal(6, all.Count);
        Assert.All(all, e =>
        {
            Assert.False(e.IsUnparsed, e.Error);
            Assert.Null(e.Error);
            Assert.Equal("web", e.TunnelName);
            Assert.Equal(42, e.ConnectionId);
            Assert.Equal("203.0.113.9:5000", e.ClientAddress);
            Assert.Equal("https", e.Scheme);
            Assert.Equal("web.example.com", e.Host);
        });
        var get = all[0];
        Assert.Equal(("GET", "/a?x=1", "HTTP/1.1", 200, "OK", "hi"), (get.Method, get.Target, get.HttpVersion, get.Status, get.Reason, S(get.ResponseBody)));
        Assert.Equal(["Host", "Accept", "X-Dup", "X-Dup"], get.RequestHeaders.Select(h => h.Key).ToArray());
        Assert.Equal("https://web.example.com/a?x=1", get.Url);
        Assert.Equal("/a", get.Path);
        Assert.Equal(Requests.IndexOf("POST", StringComparison.Ordinal), get.BytesIn);
        Assert.Equal(Responses.IndexOf("HTTP/1.1 201", StringComparison.Ordinal), get.BytesOut);

        var post = all[1];
        Assert.Equal("Wikipedia", S(post.RequestBody));
        Assert.Equal(9, post.RequestBodySize);
        Assert.Equal(201, post.Status);
        Assert.Equal("abc", S(post.ResponseBody));

        Assert.Equal(("HEAD", 200, 0L), (all[2].Method, all[2].Status, all[2].ResponseBodySize));
        Assert.Equal("1234", all[2].GetResponseHeader("content-length"));
        Assert.Equal((204, 304), (all[3].Status, all[4].Status));

        var put = all[5];
        Assert.Equal(("PUT", 200, "hello", "done"), (put.Method, put.Status, S(put.RequestBody), S(put.ResponseBody)));
        Assert.Equal("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone".Length, put.BytesOut);
    }

    [Fact]
    public void RecordsKeepAliveExchangesWithAllBodyKinds()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B(Requests));
        tap.OnLocalData(B(Responses));
        AssertKeepAliveExchanges(store);
        tap.OnClosed();
        Assert.Equal(6, store.Count);
    }

    [Fact]
    public void RecordsTheSameExchangesAtRandomSplitsAndInterleavings()
    {
        var requests = B(Requests);
        var responses = B(Responses);
        for (var seed = 0; seed < 300; seed++)
        {
            var random = new Random(seed);
            var (store, tap, time) = Create();
            var r = 0;
            var s = 0;
            while (r < requests.Length || s < responses.Length)
            {
                // Responses may be reported before the requests they answer (the two directions race).
                var visitor = s >= responses.Length || (r < requests.Length && random.Next(2) == 0);
                if (visitor)
                {
                    var n = Math.Min(requests.Length - r, random.Next(1, seed % 3 == 0 ? 4 : 64));
                    tap.OnVisitorData(requests.AsSpan(r, n));
                    r += n;
                }
                else
                {
                    var n = Math.Min(responses.Length - s, random.Next(1, seed % 3 == 0 ? 4 : 64));
                    tap.OnLocalData(responses.AsSpan(s, n));
                    s += n;
                }
                time.Advance(TimeSpan.FromMilliseconds(1));
            }
            AssertKeepAliveExchanges(store);
        }
    }

    /// <summary>
    /// The two directions report from two threads at once, as in a splice, each in random pieces, the responses as
    /// likely to run ahead of their requests as behind: the same exchanges every time.
    /// </summary>
    [Fact]
    public async Task RecordsTheSameExchangesWhenBothDirectionsReportAtOnce()
    {
        var requests = B(Requests);
        var responses = B(Responses);
        for (var seed = 0; seed < 300; seed++)
        {
            var (store, tap, _) = Create();
            using var start = new Barrier(2);
            void Feed(byte[] bytes, bool visitor, int feedSeed)
            {
                var random = new Random(feedSeed);
                start.SignalAndWait(TimeSpan.FromSeconds(10));
                for (var at = 0; at < bytes.Length;)
                {
                    var n = Math.Min(bytes.Length - at, random.Next(1, feedSeed % 3 == 0 ? 4 : 64));
                    if (visitor)
                    {
                        tap.OnVisitorData(bytes.AsSpan(at, n));
                    }
                    else
                    {
                        tap.OnLocalData(bytes.AsSpan(at, n));
                    }
                    at += n;
                    if (random.Next(8) == 0)
                    {
                        Thread.Yield();
                    }
                }
            }
            var visitorSide = Task.Factory.StartNew(() => Feed(requests, visitor: true, seed), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var localSide = Task.Factory.StartNew(() => Feed(responses, visitor: false, seed + 1000), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await Task.WhenAll(visitorSide, localSide).WaitAsync(TimeSpan.FromSeconds(30));
            AssertKeepAliveExchanges(store);
            tap.OnClosed();
            Assert.Equal(6, store.Count);
        }
    }

    [Fact]
    public async Task AnUpgradeFromTheOtherThreadStopsCaptureOnce()
    {
        for (var seed = 0; seed < 200; seed++)
        {
            var (store, tap, _) = Create();
            var upgrade = B("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
            var frames = B("\x81\x05hello GET /x HTTP/1.1\r\n\r\n garbage");
            var switching = B("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi");
            using var start = new Barrier(2);
            var visitorSide = Task.Run(() =>
            {
                start.SignalAndWait(TimeSpan.FromSeconds(10));
                tap.OnVisitorData(upgrade);
                for (var i = 0; i < 20; i++)
                {
                    tap.OnVisitorData(frames);
                }
            });
            var localSide = Task.Run(() =>
            {
                start.SignalAndWait(TimeSpan.FromSeconds(10));
                for (var i = 0; i < switching.Length; i += 7)
                {
                    tap.OnLocalData(switching.AsSpan(i, Math.Min(7, switching.Length - i)));
                }
            });
            await Task.WhenAll(visitorSide, localSide).WaitAsync(TimeSpan.FromSeconds(30));
            tap.OnClosed();
            var e = Assert.Single(store.Snapshot());
            Assert.True(e.IsUpgrade, $"seed {seed}: {e.Error}");
            Assert.Equal((101, "/ws", (string?)null), (e.Status, e.Target, e.Error));
            Assert.True(tap.IsPassThrough);
        }
    }

    [Fact]
    public void MeasuresTimings()
    {
        var (store, tap, time) = Create();
        tap.OnVisitorData(B("GET / HTTP/1.1\r\n"));
        time.Advance(TimeSpan.FromMilliseconds(5));
        tap.OnVisitorData(B("Host: a\r\n\r\n"));
        time.Advance(TimeSpan.FromMilliseconds(20));
        tap.OnLocalData(B("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na"));
        time.Advance(TimeSpan.FromMilliseconds(75));
        tap.OnLocalData(B("bc"));
        var e = Assert.Single(store.Snapshot());
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero), e.StartTime);
        Assert.Equal(TimeSpan.FromMilliseconds(25), e.TimeToFirstByte);
        Assert.Equal(TimeSpan.FromMilliseconds(100), e.Duration);
    }

    [Fact]
    public void CapsBodiesAndCountsTheRest()
    {
        var (store, tap, _) = Create(maxBody: 10);
        var body = new string('x', 100);
        tap.OnVisitorData(B($"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{body}"));
        tap.OnLocalData(B("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + body + "\r\n0\r\n\r\n"));
        var e = Assert.Single(store.Snapshot());
        Assert.Equal((10, 100L, true), (e.RequestBody.Length, e.RequestBodySize, e.RequestTruncated));
        Assert.Equal((10, 100L, true), (e.ResponseBody.Length, e.ResponseBodySize, e.ResponseTruncated));
    }

    [Fact]
    public void BodyUntilCloseIsRecordedWhenTheConnectionCloses()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("GET /stream HTTP/1.0\r\nHost: a\r\n\r\n"));
        tap.OnLocalData(B("HTTP/1.0 200 OK\r\n\r\nsome "));
        tap.OnLocalData(B("data"));
        Assert.Equal(0, store.Count);
        tap.OnClosed();
        var e = Assert.Single(store.Snapshot());
        Assert.Equal("some data", S(e.ResponseBody));
        Assert.Null(e.Error);
    }

    [Fact]
    public void RecordsTheWebSocketHandshakeThenPassesBytesThrough()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n"));
        // A frame from the visitor reported before the 101 (the directions race).
        tap.OnVisitorData([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        tap.OnLocalData(B("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi"));
        tap.OnVisitorData(B("GET /not-http HTTP/1.1\r\n\r\n"));
        tap.OnLocalData([0x81, 0x02, 0x68, 0x69]);
        tap.OnClosed();
        var e = Assert.Single(store.Snapshot());
        Assert.True(e.IsUpgrade);
        Assert.Equal(101, e.Status);
        Assert.Equal("/ws", e.Target);
        Assert.True(tap.IsPassThrough);
    }

    [Fact]
    public void ADeclinedUpgradeKeepsParsing()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
        tap.OnLocalData(B("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
        tap.OnVisitorData(B("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
        tap.OnLocalData(B("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(["/ws", "/next"], store.Snapshot().Select(e => e.Target).ToArray());
        Assert.False(store.Snapshot()[0].IsUpgrade);
    }

    [Fact]
    public void RecordsNonHttpBytesOnceAsUnparsed()
    {
        var (store, tap, _) = Create();
        byte[] hello = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00];
        tap.OnVisitorData(hello);
        tap.OnLocalData([0x16, 0x03, 0x03]);
        tap.OnVisitorData(B("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        tap.OnClosed();
        var e = Assert.Single(store.Snapshot());
        Assert.True(e.IsUnparsed);
        Assert.Equal(hello, e.RequestBody.ToArray());
        Assert.Contains("Malformed request line", e.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIncompleteHeadAtCloseIsRecordedAsUnparsed()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("HELLO"));
        tap.OnClosed();
        var e = Assert.Single(store.Snapshot());
        Assert.True(e.IsUnparsed);
        Assert.Equal("HELLO", S(e.RequestBody));
    }

    [Fact]
    public void AnUnparsableResponseMarksItsExchange()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        tap.OnLocalData(B("garbage\r\n\r\n"));
        var e = Assert.Single(store.Snapshot());
        Assert.True(e.IsUnparsed);
        Assert.Equal("GET", e.Method);
        Assert.Equal("garbage\r\n\r\n", S(e.ResponseBody));
    }

    [Fact]
    public void AnUnansweredRequestIsRecordedOnClose()
    {
        var (store, tap, _) = Create();
        tap.OnVisitorData(B("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        tap.OnClosed();
        tap.OnClosed();
        var e = Assert.Single(store.Snapshot());
        Assert.Equal(0, e.Status);
        Assert.NotNull(e.Error);
    }

    [Fact]
    public void AResponseBeforeItsRequestIsMatchedWhenTheRequestArrives()
    {
        var (store, tap, _) = Create();
        tap.OnLocalData(B("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        Assert.Equal(0, store.Count);
        tap.OnVisitorData(B("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
        // For HEAD, "ok" is not a body: it is where the next response would start, so capture gives up on it.
        var all = store.Snapshot();
        Assert.Equal("/", all[0].Target);
        Assert.Equal(200, all[0].Status);
        Assert.True(all[1].IsUnparsed);
    }
}
