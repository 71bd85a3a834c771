using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>A captured exchange's Url is built from a checked host and target: it never names a host the request was not addressed to.</summary>
public sealed class CapturedUrlTests
{
    [Theory]
    // Issue 16 item 5: the Url was scheme + raw Host + target, "http://name.localhost:8080@127.0.0.2:31998/collect".
    [InlineData("POST @127.0.0.2:31998/collect HTTP/1.1", "name.localhost:8080", "http://name.localhost:8080/%40127.0.0.2%3A31998%2Fcollect")]
    [InlineData("GET /a?b=1 HTTP/1.1", "name.localhost:@evil.example", "/a?b=1")]
    [InlineData("GET //evil.example/x HTTP/1.1", "name.localhost:80 evil", "/evil.example/x")]
    [InlineData("GET //evil.example/x HTTP/1.1", "name.localhost", "http://name.localhost//evil.example/x")]
    [InlineData("GET /a HTTP/1.1", "NAME.localhost:8080", "http://NAME.localhost:8080/a")]
    [InlineData("GET /a HTTP/1.1", "[::1]:8080", "http://[::1]:8080/a")]
    [InlineData("OPTIONS * HTTP/1.1", "name.localhost", "http://name.localhost")]
    [InlineData("CONNECT evil.example:443 HTTP/1.1", "name.localhost", "http://name.localhost")]
    [InlineData("GET http://other.example:8080/p HTTP/1.1", "name.localhost", "http://other.example:8080/p")]
    [InlineData("GET http://name.localhost:80@evil.example/p HTTP/1.1", "name.localhost", "http://name.localhost/http%3A%2F%2Fname.localhost%3A80%40evil.example%2Fp")]
    public void The_Url_names_only_a_checked_host(string requestLine, string host, string url)
    {
        var exchange = new CapturedExchange(Encoding.Latin1.GetBytes($"{requestLine}\r\nHost: {host}\r\n\r\n"), null);
        Assert.Equal(url, exchange.Url);
    }
}
