using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

public sealed class HttpBodyFramerTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private const string ChunkedBody = "5;ext=1;q=\"a b\"\r\nhello\r\n1A\r\n" + "abcdefghijklmnopqrstuvwxyz" + "\r\n0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n";

    private sealed class Collector : IHttpBodySink
    {
        public MemoryStream Data { get; } = new();
        public void OnBodyData(ReadOnlySpan<byte> data) => Data.Write(data);
    }

    private static HttpBodyFramer ChunkedRequestFramer()
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), out var head, out _));
        return HttpBodyFramer.ForRequest(head);
    }

    private static HttpBodyFramer ResponseFramer(string head, string method = "GET")
    {
        Assert.True(HttpHeadParser.TryParseResponseHead(B(head), out var parsed, out _));
        return HttpBodyFramer.ForResponse(parsed, method);
    }

    [Fact]
    public void ChunkedWithExtensionsAndTrailersAtEverySplitPoint()
    {
        var data = B(ChunkedBody + "GET /next");
        for (var split = 0; split <= data.Length; split++)
        {
            var framer = ChunkedRequestFramer();
            var sink = new Collector();
            var first = framer.Advance(data.AsSpan(0, split), sink, out var done1);
            var total = first;
            if (!done1)
            {
                Assert.Equal(split, first);
                total += framer.Advance(data.AsSpan(first), sink, out var done2);
                Assert.True(done2);
            }
            Assert.Equal(ChunkedBody.Length, total);
            Assert.Equal("helloabcdefghijklmnopqrstuvwxyz", Encoding.ASCII.GetString(sink.Data.ToArray()));
            Assert.Equal(31, framer.DataBytes);
            Assert.Equal(ChunkedBody.Length, framer.WireBytes);
        }
    }

    [Fact]
    public void ChunkedOneByteAtATime()
    {
        var data = B(ChunkedBody);
        var framer = ChunkedRequestFramer();
        var sink = new Collector();
        for (var i = 0; i < data.Length; i++)
        {
            Assert.False(framer.IsComplete);
            Assert.Equal(1, framer.Advance(data.AsSpan(i, 1), sink, out var complete));
            Assert.Equal(i == data.Length - 1, complete);
        }
        Assert.Equal(0, framer.Advance(B("x"), out var still));
        Assert.True(still);
        Assert.Equal("helloabcdefghijklmnopqrstuvwxyz", Encoding.ASCII.GetString(sink.Data.ToArray()));
    }

    [Theory]
    [InlineData("g\r\n")]
    [InlineData("\r\n")]
    [InlineData(";ext\r\n")]
    [InlineData("5x\r\n")]
    [InlineData("5\n")]
    [InlineData("5;a\nhello")]
    [InlineData("5\r\r")]
    [InlineData("5\r\nhelloX\r\n")]
    [InlineData("5\r\nhello\rX")]
    [InlineData("10000000000000000\r\n")]
    [InlineData("0\r\nTrailer: x\n\r\n")]
    [InlineData("0\r\n folded\r\n\r\n")]
    [InlineData("0\r\n\rX")]
    [InlineData("5;a\u0001b\r\n")]
    public void RejectsMalformedChunkFraming(string body)
    {
        var framer = ChunkedRequestFramer();
        var ex = Assert.Throws<HttpParseException>(() => framer.Advance(B(body), out _));
        Assert.Contains("chunked", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("8000000000000000\r\n")]
    [InlineData("FFFFFFFFFFFFFFFFF\r\n")]
    [InlineData("7fffffffffffffff0\r\n")]
    [InlineData("123456789abcdef0123456789abcdef\r\n")]
    public void AChunkSizeThatOverflowsIsA400InAnySplit(string body)
    {
        var data = B(body);
        var whole = Assert.Throws<HttpParseException>(() => ChunkedRequestFramer().Advance(data, out _));
        Assert.Equal(400, whole.StatusCode);
        Assert.Equal("Malformed chunked body: the chunk size is too large.", whole.Message);

        var framer = ChunkedRequestFramer();
        var trickled = Assert.Throws<HttpParseException>(() =>
        {
            for (var i = 0; i < data.Length; i++)
            {
                framer.Advance(data.AsSpan(i, 1), out _);
            }
        });
        Assert.Equal(whole.Message, trickled.Message);
    }

    [Fact]
    public void AcceptsTheLargestChunkSize()
    {
        var framer = ChunkedRequestFramer();
        Assert.Equal(18, framer.Advance(B("7fffffffffffffff\r\n"), out var complete));
        Assert.False(complete);
    }

    [Fact]
    public void RejectsAnEndlessChunkSizeOfLeadingZeros()
    {
        // The size never overflows, but the line must still end: it is bounded like an extension.
        var framer = ChunkedRequestFramer();
        var zeros = B(new string('0', 4096));
        var ex = Assert.Throws<HttpParseException>(() =>
        {
            for (var i = 0; i < 5; i++)
            {
                framer.Advance(zeros, out _);
            }
        });
        Assert.Equal(400, ex.StatusCode);
        Assert.Contains("a chunk-size line exceeds", ex.Message, StringComparison.Ordinal);

        var padded = ChunkedRequestFramer();
        var sink = new Collector();
        var body = B(new string('0', 100) + "3\r\nabc\r\n0\r\n\r\n");
        Assert.Equal(body.Length, padded.Advance(body, sink, out var complete));
        Assert.True(complete);
        Assert.Equal("abc", Encoding.ASCII.GetString(sink.Data.ToArray()));
    }

    [Theory]
    [InlineData("5\nhello\r\n0\r\n\r\n", "a chunk-size line ends in a bare LF instead of CRLF.")]
    [InlineData("5;ext=1\nhello\r\n0\r\n\r\n", "a chunk-size line ends in a bare LF instead of CRLF.")]
    [InlineData("5 \nhello\r\n0\r\n\r\n", "a chunk-size line ends in a bare LF instead of CRLF.")]
    [InlineData("5\r\nhello\n0\r\n\r\n", "chunk data ends in a bare LF instead of CRLF.")]
    [InlineData("0\nX: y\r\n\r\n", "a chunk-size line ends in a bare LF instead of CRLF.")]
    [InlineData("0\r\nX: y\n\r\n", "a trailer line ends in a bare LF instead of CRLF.")]
    [InlineData("0\r\n\n", "the last line of the body ends in a bare LF instead of CRLF.")]
    public void ABareLfInARequestBodyIsA400NamingWhere(string body, string what)
    {
        var data = B(body);
        var ex = Assert.Throws<HttpParseException>(() => ChunkedRequestFramer().Advance(data, out _));
        Assert.Equal(400, ex.StatusCode);
        Assert.Equal("Malformed chunked body: " + what, ex.Message);

        // The same error however the bytes arrive.
        for (var split = 1; split < data.Length; split++)
        {
            var framer = ChunkedRequestFramer();
            var again = Assert.Throws<HttpParseException>(() =>
            {
                framer.Advance(data.AsSpan(0, split), out _);
                framer.Advance(data.AsSpan(split), out _);
            });
            Assert.Equal(ex.Message, again.Message);
        }
    }

    [Fact]
    public void AResponseBodyMayEndItsLinesInABareLf()
    {
        // Responses come from the user's own service and are only observed: lenient, as for the response head.
        var data = B("5\nhello\n3;x=y\nabc\r\n0\nX-T: 1\n\nHTTP/1.1");
        var framer = ResponseFramer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        var sink = new Collector();
        Assert.Equal(data.Length - "HTTP/1.1".Length, framer.Advance(data, sink, out var complete));
        Assert.True(complete);
        Assert.Equal("helloabc", Encoding.ASCII.GetString(sink.Data.ToArray()));
    }

    [Fact]
    public void TheTrailerLimitDoesNotDependOnHowTheBytesArrive()
    {
        // 30 KB of trailer fields is within the 64 KiB limit whether it comes in one read or one byte per read.
        var trailer = new StringBuilder("0\r\n");
        for (var i = 0; i < 300; i++)
        {
            trailer.Append("X-T").Append(i).Append(": ").Append('v', 90).Append("\r\n");
        }
        trailer.Append("\r\n");
        var data = B(trailer.ToString());
        Assert.Equal(data.Length, ChunkedRequestFramer().Advance(data, out var whole));
        Assert.True(whole);

        var framer = ChunkedRequestFramer();
        for (var i = 0; i < data.Length; i++)
        {
            Assert.Equal(1, framer.Advance(data.AsSpan(i, 1), out _));
        }
        Assert.True(framer.IsComplete);

        var tooLong = B("0\r\nX: " + new string('v', HttpHeadParser.MaxHeadLength) + "\r\n\r\n");
        Assert.Contains("trailer section exceeds", Assert.Throws<HttpParseException>(() => ChunkedRequestFramer().Advance(tooLong, out _)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0\r\nNoColon\r\n\r\n", "invalid character in a trailer field name.")]
    [InlineData("0\r\n: v\r\n\r\n", "empty trailer field name.")]
    [InlineData("0\r\nX Y: v\r\n\r\n", "invalid character in a trailer field name.")]
    [InlineData("0\r\nX: a\u0000b\r\n\r\n", "control character in a trailer field value.")]
    [InlineData("0\r\nX: a\u001bb\r\n\r\n", "control character in a trailer field value.")]
    [InlineData("5 x\r\nhello\r\n0\r\n\r\n", "whitespace after a chunk size is not followed by ';' or the line end.")]
    public void RequestTrailersAndChunkLinesAreParsedStrictly(string body, string what)
    {
        var ex = Assert.Throws<HttpParseException>(() => ChunkedRequestFramer().Advance(B(body), out _));
        Assert.Equal("Malformed chunked body: " + what, ex.Message);
    }

    [Theory]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\t; a=b\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n")]
    public void AcceptsWhitespaceBeforeAnExtensionAndPlainTrailers(string body)
    {
        var data = B(body);
        Assert.Equal(data.Length, ChunkedRequestFramer().Advance(data, out var complete));
        Assert.True(complete);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AControlCharacterBeforeTheLengthLimitIsReportedInAnySplit(bool isRequest)
    {
        // Found by afl-fuzz: in one read, the whole extension (or trailer value) was counted against the limit before
        // its bytes were checked, so the same body failed as "too long" in one read and "control character" in many.
        foreach (var body in new[]
        {
            "1;" + new string('a', 100) + "\u0001" + new string('a', HttpBodyFramer.MaxChunkLineLength) + "\r\nx\r\n0\r\n\r\n",
            "0\r\nX: " + new string('a', 100) + "\u0000" + new string('a', HttpHeadParser.MaxHeadLength) + "\r\n\r\n",
        })
        {
            var data = B(body);
            HttpBodyFramer Framer() => isRequest ? ChunkedRequestFramer() : ResponseFramer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            var whole = Assert.Throws<HttpParseException>(() => Framer().Advance(data, out _));
            Assert.Contains("control character", whole.Message, StringComparison.Ordinal);
            var framer = Framer();
            var trickled = Assert.Throws<HttpParseException>(() =>
            {
                for (var i = 0; i < data.Length; i += 7)
                {
                    framer.Advance(data.AsSpan(i, Math.Min(7, data.Length - i)), out _);
                }
            });
            Assert.Equal(whole.Message, trickled.Message);
        }
    }

    [Fact]
    public void RejectsAnEndlessChunkExtension()
    {
        var framer = ChunkedRequestFramer();
        var chunk = B("1;" + new string('a', 4096));
        framer.Advance(chunk, out _);
        var more = B(new string('a', 4096));
        Assert.Throws<HttpParseException>(() =>
        {
            for (var i = 0; i < 5; i++)
            {
                framer.Advance(more, out _);
            }
        });
    }

    [Fact]
    public void AcceptsUpperCaseHexAndLargeChunkSizes()
    {
        var framer = ChunkedRequestFramer();
        Assert.Equal(6, framer.Advance(B("7FFF\r\n"), out var complete));
        Assert.False(complete);
        Assert.Equal(10, framer.Advance(new byte[10], out _));
        Assert.Equal(10, framer.DataBytes);
    }

    [Fact]
    public void ContentLengthBodyStopsAtItsLength()
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), out var head, out _));
        var framer = HttpBodyFramer.ForRequest(head);
        Assert.Equal(HttpBodyKind.ContentLength, framer.Kind);
        Assert.Equal(2, framer.Advance(B("he"), out var c1));
        Assert.False(c1);
        var sink = new Collector();
        Assert.Equal(3, framer.Advance(B("lloGET"), sink, out var c2));
        Assert.True(c2);
        Assert.Equal("llo", Encoding.ASCII.GetString(sink.Data.ToArray()));
        Assert.True(framer.OnConnectionClosed());
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HttpBodyKind.None)]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HttpBodyKind.None)]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", HttpBodyKind.ContentLength)]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HttpBodyKind.Chunked)]
    public void RequestBodyKinds(string head, HttpBodyKind kind)
    {
        Assert.True(HttpHeadParser.TryParseRequestHead(B(head), out var parsed, out _));
        var framer = HttpBodyFramer.ForRequest(parsed);
        Assert.Equal(kind, framer.Kind);
        Assert.Equal(kind is HttpBodyKind.None, framer.IsComplete);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "GET", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", "POST", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "GET", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", HttpBodyKind.None)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "GET", HttpBodyKind.UntilClose)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", HttpBodyKind.UntilClose)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "GET", HttpBodyKind.Chunked)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", HttpBodyKind.ContentLength)]
    [InlineData("HTTP/1.1 500 Oops\r\nContent-Length: 7\r\n\r\n", "POST", HttpBodyKind.ContentLength)]
    public void ResponseBodyKinds(string head, string method, HttpBodyKind kind)
    {
        Assert.Equal(kind, ResponseFramer(head, method).Kind);
    }

    [Fact]
    public void UntilCloseTakesEverythingAndCompletesOnClose()
    {
        var framer = ResponseFramer("HTTP/1.0 200 OK\r\n\r\n");
        Assert.Equal(5, framer.Advance(B("hello"), out var complete));
        Assert.False(complete);
        Assert.True(framer.OnConnectionClosed());
        Assert.True(framer.IsComplete);

        var cut = ResponseFramer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        cut.Advance(B("abc"), out _);
        Assert.False(cut.OnConnectionClosed());
    }

    /// <summary>A proxy reading pipelined requests: parse head, walk body, parse the next head from the remaining bytes.</summary>
    [Fact]
    public void PipelinedRequestsAtEverySplitPoint()
    {
        const string stream =
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\n" +
            "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody" +
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" +
            "\r\nDELETE /d HTTP/1.1\r\nHost: a\r\n\r\n";
        var data = B(stream);
        for (var split = 0; split <= data.Length; split++)
        {
            var seen = ReadPipelined([data[..split], data[split..]]);
            Assert.Equal("GET /a||POST /b|body|POST /c|xyz|DELETE /d||", seen);
        }
        Assert.Equal("GET /a||POST /b|body|POST /c|xyz|DELETE /d||", ReadPipelined(data.Select(b => new[] { b }).ToArray()));
    }

    private static string ReadPipelined(byte[][] reads)
    {
        var result = new StringBuilder();
        var pending = new List<byte>();
        HttpBodyFramer? framer = null;
        var sink = new Collector();
        foreach (var read in reads)
        {
            pending.AddRange(read);
            while (pending.Count > 0)
            {
                var span = pending.ToArray().AsSpan();
                if (framer is null)
                {
                    if (!HttpHeadParser.TryParseRequestHead(span, out var head, out var length))
                    {
                        break;
                    }
                    result.Append(head.Method).Append(' ').Append(head.Target).Append('|');
                    pending.RemoveRange(0, length);
                    framer = HttpBodyFramer.ForRequest(head);
                    if (framer.IsComplete)
                    {
                        result.Append('|');
                        framer = null;
                    }
                    continue;
                }
                var used = framer.Advance(span, sink, out var complete);
                pending.RemoveRange(0, used);
                if (complete)
                {
                    result.Append(Encoding.ASCII.GetString(sink.Data.ToArray())).Append('|');
                    sink.Data.SetLength(0);
                    framer = null;
                }
                else
                {
                    break;
                }
            }
        }
        return result.ToString();
    }
}
