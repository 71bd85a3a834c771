using System.Text;
using CsCheck;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

/// <summary>
/// The framing-only scanner against the parser: the same heads accepted, incomplete and rejected (with the parser's
/// exception), and the same status, version, framing and connection facts as the parsed head.
/// </summary>
public sealed class HttpHeadScannerTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private enum Outcome
    {
        Incomplete,
        Complete,
        Invalid,
    }

    private delegate bool Reader<T>(ReadOnlySpan<byte> data, out T? head, out int length);

    private static (Outcome Outcome, T? Head, int Length, HttpParseException? Error) Read<T>(byte[] input, Reader<T> read)
    {
        try
        {
            var complete = read(input, out var head, out var length);
            return (complete ? Outcome.Complete : Outcome.Incomplete, head, length, null);
        }
        catch (HttpParseException ex)
        {
            return (Outcome.Invalid, default, 0, ex);
        }
    }

    /// <summary>Scans and parses <paramref name="input"/> as a response; asserts they agree and returns the scan.</summary>
    private static (Outcome Outcome, ScannedHead Head, int Length, HttpParseException? Error) Response(byte[] input)
    {
        var scan = Read<ScannedHead>(input, HttpHeadScanner.TryScanResponse);
        var parse = Read<HttpResponseHead>(input, (ReadOnlySpan<byte> data, out HttpResponseHead? head, out int length) => HttpHeadParser.TryParseResponseHead(data, out head, out length));
        Assert.Equal(parse.Outcome, scan.Outcome);
        Assert.Equal((parse.Error?.Message, parse.Error?.StatusCode), (scan.Error?.Message, scan.Error?.StatusCode));
        if (parse.Head is { } parsed)
        {
            var scanned = scan.Head;
            Assert.Equal(parse.Length, scan.Length);
            Assert.Equal(parsed.StatusCode, scanned.StatusCode);
            Assert.Equal(parsed.IsHttp11, scanned.IsHttp11);
            Assert.Equal(parsed.KeepAlive, scanned.KeepAlive);
            Assert.Equal(parsed.IsInterim, scanned.IsInterim);
            foreach (var method in (string[])["GET", "head", "CONNECT"])
            {
                var expected = HttpBodyFramer.ForResponse(parsed, method);
                var framer = new HttpBodyFramer();
                framer.StartResponse(scanned, method == "head", method == "CONNECT");
                Assert.Equal((expected.Kind, expected.ContentLength, expected.IsComplete), (framer.Kind, framer.ContentLength, framer.IsComplete));
            }
        }
        return scan;
    }

    /// <summary>Scans and parses <paramref name="input"/> as a request; asserts they agree and returns the scan.</summary>
    private static (Outcome Outcome, ScannedHead Head, int Length, HttpParseException? Error) Request(byte[] input)
    {
        var scan = Read<ScannedHead>(input, HttpHeadScanner.TryScanRequest);
        var parse = Read<HttpRequestHead>(input, (ReadOnlySpan<byte> data, out HttpRequestHead? head, out int length) => HttpHeadParser.TryParseRequestHead(data, out head, out length));
        Assert.Equal(parse.Outcome, scan.Outcome);
        Assert.Equal((parse.Error?.Message, parse.Error?.StatusCode), (scan.Error?.Message, scan.Error?.StatusCode));
        if (parse.Head is { } parsed)
        {
            var scanned = scan.Head;
            Assert.Equal(parse.Length, scan.Length);
            Assert.Equal(parsed.Method, Encoding.Latin1.GetString(input, scanned.MethodStart, scanned.MethodLength));
            Assert.Equal(parsed.IsHttp11, scanned.IsHttp11);
            Assert.Equal(parsed.KeepAlive, scanned.KeepAlive);
            Assert.Equal(parsed.IsUpgradeRequest, scanned.IsUpgradeRequest);
            Assert.Equal(parsed.IsConnect, scanned.IsConnect);
            var expected = HttpBodyFramer.ForRequest(parsed);
            var framer = new HttpBodyFramer();
            framer.StartRequest(scanned);
            Assert.Equal((expected.Kind, expected.ContentLength, expected.IsComplete), (framer.Kind, framer.ContentLength, framer.IsComplete));
        }
        return scan;
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5L, false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length:5 \r\n\r\n", 200, 5L, false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 5,5\r\n\r\n", 200, 5L, false)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", 200, -1L, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n", 200, -1L, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 200, -1L, false)]
    [InlineData("HTTP/1.0 200 OK\nServer: bare-lf\n\n", 200, -1L, false)]
    [InlineData("HTTP/1.1 204\r\n\r\n", 204, -1L, false)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", 100, -1L, false)]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 101, -1L, false)]
    [InlineData("HTTP/1.1 200 Ok\tfine\xE9\r\nX: a\x01b\x7F\r\n\r\n", 200, -1L, false)]
    public void AResponseHeadGivesTheParsersFraming(string text, int status, long contentLength, bool chunked)
    {
        var (outcome, head, _, _) = Response(B(text));
        Assert.Equal(Outcome.Complete, outcome);
        Assert.Equal((status, contentLength, chunked), (head.StatusCode, head.ContentLength, head.IsChunked));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n: empty\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 20 Short\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\x01K\r\n\r\n")]
    [InlineData("\r\nHTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.6\r\n")]
    [InlineData("HTTX")]
    public void AResponseHeadTheParserRejectsIsRejectedWithItsException(string text)
    {
        var (outcome, _, _, error) = Response(B(text));
        Assert.Equal(Outcome.Invalid, outcome);
        Assert.NotNull(error);
    }

    [Fact]
    public void AResponseHeadAboveTheLimitIsRejectedWith502AndTooManyFieldsToo()
    {
        var big = Response(B("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', HttpHeadParser.MaxHeadLength) + "\r\n\r\n"));
        Assert.Equal((Outcome.Invalid, 502), (big.Outcome, big.Error!.StatusCode));
        var unfinished = Response(B("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', HttpHeadParser.MaxHeadLength)));
        Assert.Equal((Outcome.Invalid, 502), (unfinished.Outcome, unfinished.Error!.StatusCode));

        var fields = new StringBuilder("HTTP/1.1 200 OK\r\n");
        for (var i = 0; i < HttpHeadParser.MaxHeaderCount; i++)
        {
            fields.Append("X: ").Append(i).Append("\r\n");
        }
        Assert.Equal(Outcome.Complete, Response(B(fields + "\r\n")).Outcome);
        var tooMany = Response(B(fields + "X: one more\r\n\r\n"));
        Assert.Equal((Outcome.Invalid, 502), (tooMany.Outcome, tooMany.Error!.StatusCode));
    }

    [Fact]
    public void EveryPrefixOfAResponseHeadIsIncompleteAsForTheParser()
    {
        // A bad status line is judged only once the head is complete, as the parser judges it.
        foreach (var text in (string[])["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", "HTTP/1.1 2x0 OK\r\nX: 1\r\n\r\n"])
        {
            var bytes = B(text);
            for (var cut = 0; cut < bytes.Length; cut++)
            {
                Assert.Equal(Outcome.Incomplete, Response(bytes[..cut]).Outcome);
            }
        }
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false, true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", false, true)]
    [InlineData("HTTP/1.0 200 OK\r\n\r\n", false, false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", true, false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", true, false)]
    public void ConnectionTokensGiveKeepAliveAsTheParsedHead(string text, bool keepAlive, bool close)
    {
        var (_, head, _, _) = Response(B(text));
        Assert.Equal((keepAlive, close), (head.KeepAlive, head.ConnectionClose));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", HttpBodyKind.None)]
    [InlineData("\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "POST", HttpBodyKind.ContentLength)]
    [InlineData("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip , chunked\r\n\r\n", "POST", HttpBodyKind.Chunked)]
    [InlineData("HEAD /x HTTP/1.0\r\n\r\n", "HEAD", HttpBodyKind.None)]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "CONNECT", HttpBodyKind.None)]
    [InlineData("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", HttpBodyKind.None)]
    public void ARequestHeadGivesTheParsersFraming(string text, string method, HttpBodyKind kind)
    {
        var input = B(text);
        var (outcome, head, _, _) = Request(input);
        Assert.Equal(Outcome.Complete, outcome);
        Assert.Equal(method, Encoding.ASCII.GetString(input, head.MethodStart, head.MethodLength));
        var framer = new HttpBodyFramer();
        framer.StartRequest(head);
        Assert.Equal(kind, framer.Kind);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX: a\x7F\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n")]
    [InlineData("GET /a b HTTP/1.1\r\n\r\n")]
    [InlineData("GET  / HTTP/1.1\r\n\r\n")]
    [InlineData("GET / HTTP/2.0\r\n\r\n")]
    [InlineData("G(T / HTTP/1.1\r\n\r\n")]
    [InlineData("\x16\x03\x01\x00")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ")]
    public void ARequestHeadTheParserRejectsIsRejectedWithItsException(string text)
    {
        var (outcome, _, _, error) = Request(B(text));
        Assert.Equal(Outcome.Invalid, outcome);
        Assert.NotNull(error);
    }

    [Fact]
    public void EveryPrefixOfARequestHeadIsIncompleteAsForTheParser()
    {
        var bytes = B("\r\nPUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            Assert.Equal(Outcome.Incomplete, Request(bytes[..cut]).Outcome);
        }
    }

    /// <summary>Framing and connection headers in random spellings, orders, values and line ends.</summary>
    [Fact]
    public void RandomHeadsOfFramingFieldsAgreeWithTheParser()
    {
        var names = Gen.OneOf("Content-Length", "content-length", "Transfer-Encoding", "TRANSFER-ENCODING", "Connection", "Host", "Upgrade", "X-Other", "Bad Name");
        var values = Gen.OneOf("5", " 5 ", "5, 5", "5,6", "", "chunked", "gzip, chunked", "chunked , gzip", "Chunked", "close", "keep-alive", "Upgrade, close", "a\x01b", "x\x7Fy", "\xE9t\xE9");
        var field = Gen.Select(names, values, Gen.OneOf(": ", ":", ":\t"), (n, v, sep) => n + sep + v);
        var startLine = Gen.OneOf("HTTP/1.1 200 OK", "HTTP/1.0 204 No Content", "HTTP/1.1 101 Switching", "HTTP/1.1 304", "GET / HTTP/1.1", "POST /p HTTP/1.0", "HEAD / HTTP/1.1", "connect a:1 HTTP/1.1");
        Gen.Select(startLine, field.Array[0, 6], Gen.OneOf("\r\n", "\n"), Gen.Int[0, 3]).Sample((start, fields, eol, extra) =>
        {
            var text = start + eol + string.Concat(fields.Select(f => f + eol)) + eol + new string('x', extra);
            var input = B(text);
            if (start.StartsWith("HTTP", StringComparison.Ordinal))
            {
                Response(input);
            }
            else
            {
                Request(input);
            }
        }, iter: 3000);
    }
}
