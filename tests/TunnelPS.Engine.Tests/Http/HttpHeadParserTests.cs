using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

public sealed class HttpHeadParserTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private const string SimpleGet =
        "GET /path?q=1 HTTP/1.1\r\nHost: Example.com:8080\r\nuser-agent: curl/8\r\nAccept: */*\r\nX-Dup: a\r\nx-dup: b\r\n\r\n";

    [Fact]
    public void ParsesRequestLineAndHeadersInOrderWithDuplicates()
    {
        var data = B(SimpleGet + "NEXT");
        Assert.True(HttpHeadParser.TryParseRequestHead(data, out var head, out var length));
        Assert.Equal(SimpleGet.Length, length);
        Assert.Equal("GET", head.Method);
        Assert.Equal("/path?q=1", head.Target);
        Assert.Equal("HTTP/1.1", head.Version);
        Assert.Equal("Example.com:8080", head.Host);
        Assert.Equal(5, head.Headers.Count);
        Assert.Equal("user-agent", head.Headers[1].Key);
        Assert.Equal("curl/8", head.Headers["User-Agent"]);
        Assert.Equal(["a", "b"], head.Headers.GetValues("X-DUP").ToArray());
        Assert.True(head.KeepAlive);
        Assert.False(head.IsUpgradeRequest);
        Assert.False(head.ExpectsContinue);
    }

    [Fact]
    public void EverySplitPointNeedsMoreBytesUntilTheHeadIsComplete()
    {
        var data = B(SimpleGet + "BODY");
        for (var i = 0; i <= data.Length; i++)
        {
            var complete = HttpHeadParser.TryParseRequestHead(data.AsSpan(0, i), out var head, out var length);
            Assert.Equal(i >= SimpleGet.Length, complete);
            if (complete)
            {
                Assert.Equal(SimpleGet.Length, length);
                Assert.Equal("/path?q=1", head!.Target);
            }
        }
    }

    [Fact]
    public void ResponseEverySplitPoint()
    {
        const string text = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n";
        var data = B(text + "abc");
        for (var i = 0; i <= data.Length; i++)
        {
            var complete = HttpHeadParser.TryParseResponseHead(data.AsSpan(0, i), out var head, out var length);
            Assert.Equal(i >= text.Length, complete);
            if (complete)
            {
                Assert.Equal(text.Length, length);
                Assert.Equal(404, head!.StatusCode);
                Assert.Equal("Not Found", head.Reason);
            }
        }
    }

    [Fact]
    public void SkipsEmptyLinesBeforeTheRequestLine()
    {
        var text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        Assert.True(HttpHeadParser.TryParseRequestHead(B(text), out var head, out var length));
        Assert.Equal(text.Length, length);
        Assert.Equal("/", head.Target);
    }

    [Fact]
    public void ReserialisesTheHeadWithAddedHeaders()
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B(SimpleGet), out var head, out _));
        Assert.Equal(SimpleGet, Encoding.Latin1.GetString(head.ToArray()));
        head.Headers.Add("X-Forwarded-For", "203.0.113.9");
        head.Headers.Set("x-dup", "c");
        var expected = "GET /path?q=1 HTTP/1.1\r\nHost: Example.com:8080\r\nuser-agent: curl/8\r\nAccept: */*\r\nx-dup: c\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n";
        var buffer = new byte[head.GetSerializedLength() + 10];
        var written = head.WriteTo(buffer);
        Assert.Equal(expected, Encoding.Latin1.GetString(buffer, 0, written));
        Assert.Throws<ArgumentException>(() => head.WriteTo(new byte[10]));
    }

    [Fact]
    public void KeepsObsTextBytesThroughARoundTrip()
    {
        var bytes = B("GET /caf\u00e9 HTTP/1.1\r\nHost: a\r\nX-Name: \u00ff\u0080\r\n\r\n");
        Assert.True(HttpHeadParser.TryParseRequestHead(bytes, out var head, out _));
        Assert.Equal(bytes, head.ToArray());
    }

    [Theory]
    [InlineData("HTTP/1.1", "", true)]
    [InlineData("HTTP/1.1", "Connection: close\r\n", false)]
    [InlineData("HTTP/1.1", "Connection: Keep-Alive, Close\r\n", false)]
    [InlineData("HTTP/1.0", "", false)]
    [InlineData("HTTP/1.0", "Connection: keep-alive\r\n", true)]
    public void KeepAliveFollowsVersionAndConnection(string version, string header, bool expected)
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B($"GET / {version}\r\nHost: a\r\n{header}\r\n"), out var head, out _));
        Assert.Equal(expected, head.KeepAlive);
    }

    [Fact]
    public void RecognisesUpgradeExpectContinueAndAbsoluteForm()
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"), out var ws, out _));
        Assert.True(ws.IsUpgradeRequest);
        Assert.True(HttpHeadParser.TryParseRequestHead(B("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"), out var put, out _));
        Assert.True(put.ExpectsContinue);
        Assert.True(HttpHeadParser.TryParseRequestHead(B("GET http://user@target.example:81/p HTTP/1.1\r\nHost: other\r\n\r\n"), out var abs, out _));
        Assert.Equal("target.example:81", abs.Host);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\n\n", "bare LF")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", "folding")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", "whitespace")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent Length: 5\r\n\r\n", "whitespace")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n: 5\r\n\r\n", "empty header name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", "no colon")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "more than one Content-Length")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", "is a list")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", "Invalid Content-Length")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", "Invalid Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "both Transfer-Encoding and Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "does not end in a single 'chunked'")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "does not end in a single 'chunked'")]
    [InlineData("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0 request carries Transfer-Encoding")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host")]
    [InlineData("GET / HTTP/2.0\r\nHost: a\r\n\r\n", "Malformed request line")]
    [InlineData("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", "Malformed request line")]
    [InlineData("GET\r\n\r\n", "Malformed request line")]
    [InlineData("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "Malformed request line")]
    [InlineData("GET /a\u0001 HTTP/1.1\r\nHost: a\r\n\r\n", "Malformed request line")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n", "control character")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "control character")]
    public void RejectsMalformedAndSmugglingRequests(string text, string messagePart)
    {
        var ex = Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(B(text), out _, out _));
        Assert.Equal(400, ex.StatusCode);
        Assert.Contains(messagePart, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("Content-Length: 4, 4\r\n", "is a list")]
    [InlineData("Content-Length: 4,4\r\n", "is a list")]
    [InlineData("Content-Length: 4\r\nContent-Length: 4\r\n", "more than one Content-Length")]
    [InlineData("Content-Length: 4\r\ncontent-length: 4\r\n", "more than one Content-Length")]
    [InlineData("Content-Length: 4\r\nX: y\r\nContent-Length: 5\r\n", "more than one Content-Length")]
    public void RejectsARequestContentLengthListOrRepeat(string headers, string messagePart)
    {
        // Even equal values: a proxy that forwards such a request must not guess how the backend frames it.
        var text = "POST / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\nbody";
        var ex = Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(B(text), out _, out _));
        Assert.Equal(400, ex.StatusCode);
        Assert.Contains(messagePart, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Content-Length: 4, 4\r\n")]
    [InlineData("Content-Length: 4\r\nContent-Length: 4\r\n")]
    [InlineData("Content-Length: 4, 4\r\nContent-Length: 4\r\n")]
    public void AcceptsRepeatedIdenticalContentLengthInAResponse(string headers)
    {
        Assert.True(HttpHeadParser.TryParseResponseHead(B("HTTP/1.1 200 OK\r\n" + headers + "\r\n"), out var head, out _));
        var framer = HttpBodyFramer.ForResponse(head, "GET");
        Assert.Equal(HttpBodyKind.ContentLength, framer.Kind);
        Assert.Equal(4, framer.ContentLength);
    }

    [Theory]
    [InlineData("Content-Length: 4, 5\r\n")]
    [InlineData("Content-Length: 4\r\nContent-Length: 5\r\n")]
    public void RejectsDifferingContentLengthsInAResponse(string headers)
    {
        var ex = Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseResponseHead(B("HTTP/1.1 200 OK\r\n" + headers + "\r\n"), out _, out _));
        Assert.Contains("Conflicting Content-Length", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAnOversizedHeadWith431()
    {
        var big = B("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', HttpHeadParser.MaxHeadLength) + "\r\n\r\n");
        var ex = Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(big, out _, out _));
        Assert.Equal(431, ex.StatusCode);
        Assert.Contains("exceeds 64 KiB", ex.Message, StringComparison.Ordinal);

        // Without a line end in sight, too.
        var noLf = big.AsSpan(0, HttpHeadParser.MaxHeadLength + 1).ToArray();
        Assert.Equal(431, Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(noLf, out _, out _)).StatusCode);

        // Exactly at the limit is accepted.
        var prefix = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";
        var fill = HttpHeadParser.MaxHeadLength - prefix.Length - 4;
        var exact = B(prefix + new string('b', fill) + "\r\n\r\n");
        Assert.Equal(HttpHeadParser.MaxHeadLength, exact.Length);
        Assert.True(HttpHeadParser.TryParseRequestHead(exact, out _, out var length));
        Assert.Equal(exact.Length, length);
    }

    [Fact]
    public void RejectsTooManyHeaders()
    {
        var sb = new StringBuilder("GET / HTTP/1.1\r\n");
        for (var i = 0; i <= HttpHeadParser.MaxHeaderCount; i++)
        {
            sb.Append("X-").Append(i).Append(": v\r\n");
        }
        sb.Append("\r\n");
        Assert.Equal(431, Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(B(sb.ToString()), out _, out _)).StatusCode);
    }

    [Fact]
    public void RecognisesNonHttpBytesWithoutWaitingForALineEnd()
    {
        byte[] tlsHello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00];
        Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseRequestHead(tlsHello, out _, out _));
        Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseResponseHead(B("SSH-2.0-OpenSSH"), out _, out _));
        Assert.False(HttpHeadParser.TryParseRequestHead(B("OPTI"), out _, out _));
        Assert.False(HttpHeadParser.TryParseResponseHead(B("HTT"), out _, out _));
    }

    [Fact]
    public void ParsesResponsesLeniently()
    {
        Assert.True(HttpHeadParser.TryParseResponseHead(B("HTTP/1.0 200\nServer: x\n\n"), out var head, out var length));
        Assert.Equal(200, head.StatusCode);
        Assert.Equal(string.Empty, head.Reason);
        Assert.Equal("HTTP/1.0", head.Version);
        Assert.Equal(24, length);
        Assert.False(head.KeepAlive);
        Assert.Equal("HTTP/1.0 200 \r\nServer: x\r\n\r\n", head.ToString());
    }

    [Theory]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded\r\n\r\n")]
    public void RejectsMalformedResponses(string text)
    {
        Assert.Throws<HttpParseException>(() => HttpHeadParser.TryParseResponseHead(B(text), out _, out _));
    }

    [Fact]
    public void HeaderListOperations()
    {
        var list = new HttpHeaderList { { "A", "1" }, { "b", "2" }, { "a", "3" } };
        Assert.Equal("1", list["a"]);
        Assert.Null(list["c"]);
        list.Set("A", "4");
        Assert.Equal(2, list.Count);
        Assert.Equal("A", list[0].Key);
        Assert.Equal("4", list[0].Value);
        Assert.True(list.Remove("B"));
        Assert.False(list.Remove("B"));
        Assert.Single(list);
        Assert.Throws<ArgumentException>(() => list.Add("Bad Name", "x"));
        Assert.Throws<ArgumentException>(() => list.Add("X", "a\r\nInjected: 1"));
    }
}
