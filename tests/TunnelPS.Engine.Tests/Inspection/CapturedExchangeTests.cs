using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class CapturedExchangeTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void HeadFieldsAreReadFromTheHeadBytesWhenAskedFor()
    {
        var exchange = new CapturedExchange(
            B("GET /a/b?x=1 HTTP/1.0\r\nHost: web.example.com\r\nX-Dup: 1\r\nx-dup:  2 \r\nX-Latin: caf\xE9\r\n\r\n"),
            B("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"))
        {
            Scheme = "https",
            Status = 404,
        };
        Assert.Equal(("GET", "/a/b?x=1", "HTTP/1.0", "web.example.com"), (exchange.Method, exchange.Target, exchange.HttpVersion, exchange.Host));
        Assert.Equal([new("Host", "web.example.com"), new("X-Dup", "1"), new("x-dup", "2"), new KeyValuePair<string, string>("X-Latin", "caf\xE9")], exchange.RequestHeaders);
        Assert.Equal(("/a/b", "https://web.example.com/a/b?x=1"), (exchange.Path, exchange.Url));
        Assert.Equal("Not Found", exchange.Reason);
        Assert.Equal(["a=1", "b=2"], exchange.ResponseHeaders.Where(h => h.Key == "Set-Cookie").Select(h => h.Value));
        Assert.Equal("text/plain", exchange.GetResponseHeader("content-type"));
        Assert.Same(exchange.RequestHeaders, exchange.RequestHeaders);
    }

    [Fact]
    public void AnAbsoluteFormTargetGivesTheHostAndValuesGivenInTheInitializerWin()
    {
        var exchange = new CapturedExchange(B("GET http://other.example:8080/p HTTP/1.1\r\nHost: web\r\n\r\n"), null)
        {
            Reason = "given",
        };
        Assert.Equal("other.example:8080", exchange.Host);
        Assert.Equal(("given", 0), (exchange.Reason, exchange.ResponseHeaders.Count));

        var overridden = new CapturedExchange(B("GET / HTTP/1.1\r\nHost: web\r\n\r\n"), null) { Host = null, Method = "PUT" };
        Assert.Equal(((string?)null, "PUT", "/"), (overridden.Host, overridden.Method, overridden.Target));
    }

    [Fact]
    public void WithoutHeadBytesTheFieldsHaveTheirDefaults()
    {
        var exchange = new CapturedExchange(null, null);
        Assert.Equal((string.Empty, string.Empty, "HTTP/1.1", string.Empty, (string?)null), (exchange.Method, exchange.Target, exchange.HttpVersion, exchange.Reason, exchange.Host));
        Assert.Empty(exchange.RequestHeaders);
        Assert.Empty(exchange.ResponseHeaders);
    }

    [Fact]
    public async Task ReadersOnSeveralThreadsSeeOneParse()
    {
        var exchange = new CapturedExchange(B("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"), B("HTTP/1.1 200 OK\r\n\r\n"));
        using var start = new Barrier(4);
        var reads = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait(TimeSpan.FromSeconds(10));
            return (exchange.RequestHeaders, exchange.ResponseHeaders, exchange.Method);
        })));
        Assert.All(reads, r => Assert.Same(reads[0].RequestHeaders, r.RequestHeaders));
        Assert.All(reads, r => Assert.Same(reads[0].ResponseHeaders, r.ResponseHeaders));
        Assert.All(reads, r => Assert.Equal("POST", r.Method));
    }
}
