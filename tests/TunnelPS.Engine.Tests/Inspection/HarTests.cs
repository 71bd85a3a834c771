using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class HarTests
{
    private static CapturedExchange[] Sample()
    {
        var gz = new MemoryStream();
        using (var gzip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write("compressed text"u8);
        }
        var store = new CaptureStore();
        var first = store.Add(new CapturedExchange
        {
            TunnelName = "web",
            PublicUrl = "https://web.example.com",
            ConnectionId = 7,
            ClientAddress = "203.0.113.9:5000",
            Scheme = "https",
            Host = "web.example.com",
            Method = "POST",
            Target = "/api/items?id=3&q=a%20b",
            RequestHeaders = [new("Host", "web.example.com"), new("Content-Type", "application/json"), new("Authorization", "Bearer secret"), new("Cookie", "sid=abc; theme=dark")],
            RequestBody = Encoding.UTF8.GetBytes("{\"name\":\"x\"}"),
            RequestBodySize = 12,
            Status = 200,
            Reason = "OK",
            ResponseHeaders = [new("Content-Type", "text/plain; charset=utf-8"), new("Content-Encoding", "gzip"), new("Set-Cookie", "sid=new; Path=/; HttpOnly")],
            ResponseBody = gz.ToArray(),
            ResponseBodySize = gz.Length,
            StartTime = new DateTimeOffset(2024, 5, 1, 12, 0, 0, 123, TimeSpan.Zero),
            TimeToFirstByte = TimeSpan.FromMilliseconds(12.5),
            Duration = TimeSpan.FromMilliseconds(20),
        });
        var second = store.Add(new CapturedExchange
        {
            TunnelName = "web",
            Host = "web.example.com",
            Method = "PUT",
            Target = "/bin",
            RequestHeaders = [new("Host", "web.example.com"), new("Content-Type", "application/octet-stream")],
            RequestBody = new byte[] { 0, 1, 2, 255 },
            RequestBodySize = 4,
            Status = 500,
            Reason = "Internal Server Error",
            ResponseHeaders = [new("Content-Type", "image/png")],
            ResponseBody = new byte[] { 0x89, 0x50, 0x4E, 0x47 },
            ResponseBodySize = 4,
            IsReplay = true,
            ReplayOf = first.Id,
        });
        return [first, second];
    }

    [Fact]
    public void WrittenFileFollowsTheHar12Structure()
    {
        var json = HarWriter.WriteToString(Sample());
        using var doc = JsonDocument.Parse(json);
        HarValidator.Validate(doc.RootElement);
        var log = doc.RootElement.GetProperty("log");
        Assert.Equal("1.2", log.GetProperty("version").GetString());
        Assert.Equal("TunnelPS", log.GetProperty("creator").GetProperty("name").GetString());
        var entry = log.GetProperty("entries")[0];
        Assert.Equal("2024-05-01T12:00:00.123+00:00", entry.GetProperty("startedDateTime").GetString());
        Assert.Equal("https://web.example.com/api/items?id=3&q=a%20b", entry.GetProperty("request").GetProperty("url").GetString());
        Assert.Equal("a b", entry.GetProperty("request").GetProperty("queryString")[1].GetProperty("value").GetString());
        Assert.Equal("compressed text", entry.GetProperty("response").GetProperty("content").GetProperty("text").GetString());
        Assert.Equal("sid", entry.GetProperty("response").GetProperty("cookies")[0].GetProperty("name").GetString());
        Assert.Equal("web", entry.GetProperty("_tunnel").GetString());
        var second = log.GetProperty("entries")[1];
        Assert.Equal("base64", second.GetProperty("response").GetProperty("content").GetProperty("encoding").GetString());
        Assert.Equal("base64", second.GetProperty("request").GetProperty("postData").GetProperty("_encoding").GetString());
        Assert.Equal(log.GetProperty("entries")[0].GetProperty("_id").GetInt64(), second.GetProperty("_replayOf").GetInt64());
    }

    [Fact]
    public void RedactsCredentials()
    {
        var json = HarWriter.WriteToString(Sample(), new HarWriterOptions { Redact = true });
        Assert.DoesNotContain("secret", json, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", json, StringComparison.Ordinal);
        Assert.DoesNotContain("sid=new", json, StringComparison.Ordinal);
        Assert.Contains("REDACTED", json, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        HarValidator.Validate(doc.RootElement);
    }

    [Fact]
    public void RoundTripsThroughHar()
    {
        var original = Sample();
        var read = HarReader.ReadFromString(HarWriter.WriteToString(original));
        Assert.Equal(2, read.Count);
        var a = read[0];
        Assert.Equal(("POST", "/api/items?id=3&q=a%20b", "web.example.com", "https"), (a.Method, a.Target, a.Host, a.Scheme));
        Assert.Equal(original[0].RequestHeaders, a.RequestHeaders);
        Assert.Equal("{\"name\":\"x\"}", Encoding.UTF8.GetString(a.RequestBody.Span));
        Assert.Equal((200, "OK"), (a.Status, a.Reason));
        Assert.Equal("compressed text", Encoding.UTF8.GetString(a.ResponseBody.Span));
        Assert.Equal(original[0].StartTime, a.StartTime);
        Assert.Equal(original[0].Duration, a.Duration);
        Assert.Equal(original[0].TimeToFirstByte, a.TimeToFirstByte);
        Assert.Equal(("web", 7L, "203.0.113.9:5000"), (a.TunnelName, a.ConnectionId, a.ClientAddress));
        var b = read[1];
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, b.RequestBody.ToArray());
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, b.ResponseBody.ToArray());
        Assert.True(b.IsReplay);
        Assert.Equal(original[0].Id, b.ReplayOf);
    }

    [Fact]
    public async Task ReadsABrowserHarAndReplaysIt()
    {
        const string browserHar = """
        {"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],
         "entries":[{"startedDateTime":"2024-05-01T12:00:00.000Z","time":15.2,
          "request":{"method":"POST","url":"http://example.test/submit?a=1","httpVersion":"http/2.0",
            "headers":[{"name":":authority","value":"example.test"},{"name":"content-type","value":"text/plain"}],
            "queryString":[{"name":"a","value":"1"}],"cookies":[],"headersSize":-1,"bodySize":5,
            "postData":{"mimeType":"text/plain","text":"hello"}},
          "response":{"status":204,"statusText":"","httpVersion":"http/2.0","headers":[],"cookies":[],
            "content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":0,"_transferSize":100},
          "cache":{},"timings":{"blocked":-1,"dns":-1,"ssl":-1,"connect":-1,"send":0.1,"wait":10,"receive":5.1},
          "_initiator":{"type":"script"}}]}}
        """;
        var exchange = Assert.Single(HarReader.ReadFromString(browserHar));
        Assert.Equal(("POST", "/submit?a=1", "HTTP/1.1"), (exchange.Method, exchange.Target, exchange.HttpVersion));
        Assert.Equal("example.test", exchange.GetRequestHeader("Host"));
        Assert.DoesNotContain(exchange.RequestHeaders, h => h.Key.StartsWith(':'));

        await using var server = new TestHttpServer((_, body) => TestHttpServer.Response(200, "OK", Encoding.UTF8.GetString(body)));
        var store = new CaptureStore();
        var replay = await new ExchangeReplayer().ReplayAsync(exchange, server.Uri, store, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("hello", Encoding.UTF8.GetString(replay.ResponseBody.Span));
    }

    [Fact]
    public void RejectsFilesThatAreNotHar()
    {
        Assert.Throws<TunnelException>(() => HarReader.ReadFromString("{\"log\":{}}"));
        Assert.Throws<TunnelException>(() => HarReader.ReadFromString("not json"));
    }
}

/// <summary>Checks the required fields and types of a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/).</summary>
internal static class HarValidator
{
    public static void Validate(JsonElement root)
    {
        var log = Object(root, "log");
        String(log, "version");
        var creator = Object(log, "creator");
        String(creator, "name");
        String(creator, "version");
        foreach (var entry in Array(log, "entries").EnumerateArray())
        {
            var started = String(entry, "startedDateTime");
            Assert.True(DateTimeOffset.TryParse(started, out _), $"startedDateTime '{started}' is not ISO 8601");
            Number(entry, "time");
            var request = Object(entry, "request");
            String(request, "method");
            Assert.True(Uri.TryCreate(String(request, "url"), UriKind.Absolute, out _), "request.url must be absolute");
            String(request, "httpVersion");
            NameValues(request, "cookies");
            NameValues(request, "headers");
            NameValues(request, "queryString");
            if (request.TryGetProperty("postData", out var postData))
            {
                String(postData, "mimeType");
                Assert.True(postData.TryGetProperty("text", out _) || postData.TryGetProperty("params", out _), "postData needs text or params");
            }
            Number(request, "headersSize");
            Number(request, "bodySize");
            var response = Object(entry, "response");
            Number(response, "status");
            String(response, "statusText");
            String(response, "httpVersion");
            NameValues(response, "cookies");
            NameValues(response, "headers");
            var content = Object(response, "content");
            Number(content, "size");
            String(content, "mimeType");
            if (content.TryGetProperty("text", out var text))
            {
                Assert.Equal(JsonValueKind.String, text.ValueKind);
            }
            String(response, "redirectURL");
            Number(response, "headersSize");
            Number(response, "bodySize");
            Object(entry, "cache");
            var timings = Object(entry, "timings");
            var send = Number(timings, "send");
            var wait = Number(timings, "wait");
            var receive = Number(timings, "receive");
            Assert.True(send >= 0 && wait >= 0 && receive >= 0, "send, wait and receive must not be negative");
            foreach (var optional in new[] { "blocked", "dns", "connect", "ssl" })
            {
                if (timings.TryGetProperty(optional, out var value))
                {
                    Assert.True(value.GetDouble() >= -1);
                }
            }
            var sum = send + wait + receive;
            Assert.True(Math.Abs(sum - entry.GetProperty("time").GetDouble()) < 0.01, "time must equal the sum of the timings");
            foreach (var property in entry.EnumerateObject())
            {
                Assert.True(property.Name.StartsWith('_') || KnownEntryFields.Contains(property.Name), $"unknown entry field '{property.Name}' (custom fields start with '_')");
            }
        }
    }

    private static readonly HashSet<string> KnownEntryFields = ["pageref", "startedDateTime", "time", "request", "response", "cache", "timings", "serverIPAddress", "connection", "comment"];

    private static JsonElement Object(JsonElement parent, string name)
    {
        Assert.True(parent.TryGetProperty(name, out var value), $"missing '{name}'");
        Assert.Equal(JsonValueKind.Object, value.ValueKind);
        return value;
    }

    private static JsonElement Array(JsonElement parent, string name)
    {
        Assert.True(parent.TryGetProperty(name, out var value), $"missing '{name}'");
        Assert.Equal(JsonValueKind.Array, value.ValueKind);
        return value;
    }

    private static string String(JsonElement parent, string name)
    {
        Assert.True(parent.TryGetProperty(name, out var value), $"missing '{name}'");
        Assert.Equal(JsonValueKind.String, value.ValueKind);
        return value.GetString()!;
    }

    private static double Number(JsonElement parent, string name)
    {
        Assert.True(parent.TryGetProperty(name, out var value), $"missing '{name}'");
        Assert.Equal(JsonValueKind.Number, value.ValueKind);
        return value.GetDouble();
    }

    private static void NameValues(JsonElement parent, string name)
    {
        foreach (var item in Array(parent, name).EnumerateArray())
        {
            String(item, "name");
            String(item, "value");
        }
    }
}
