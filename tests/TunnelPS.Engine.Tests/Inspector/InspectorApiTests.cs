using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Tests.Inspection;

namespace TunnelPS.Engine.Tests.Inspector;

public sealed class InspectorApiTests
{
    [Fact]
    public async Task Lists_requests_newest_first_without_bodies_and_filters_them()
    {
        await using var host = InspectorTestHost.Start();
        var first = host.Add("GET", "/a?x=1", 200, responseBody: "one");
        var second = host.Add("POST", "/api/items", 500, requestBody: "{\"a\":1}");
        var third = host.Add("POST", "/api/other", 201);

        var all = await host.GetJsonAsync("/api/requests/http");
        var ids = all.GetProperty("requests").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).ToArray();
        Assert.Equal([third.Id, second.Id, first.Id], ids);
        var summary = all.GetProperty("requests")[2];
        Assert.Equal("/api/requests/http/" + first.Id, summary.GetProperty("uri").GetString());
        Assert.Equal("web", summary.GetProperty("tunnel_name").GetString());
        Assert.Equal("/a?x=1", summary.GetProperty("request").GetProperty("uri").GetString());
        Assert.Equal("200 OK", summary.GetProperty("response").GetProperty("status").GetString());
        Assert.Equal(12_500_000, summary.GetProperty("duration").GetInt64());
        Assert.False(summary.GetProperty("response").TryGetProperty("body", out _));

        Assert.Equal([second.Id], Ids(await host.GetJsonAsync("/api/requests/http?status=5xx")));
        Assert.Equal([third.Id, second.Id], Ids(await host.GetJsonAsync("/api/requests/http?method=post")));
        Assert.Equal([third.Id], Ids(await host.GetJsonAsync("/api/requests/http?method=POST&limit=1")));
        Assert.Equal([second.Id], Ids(await host.GetJsonAsync("/api/requests/http?path=/api/i*")));
        Assert.Equal([first.Id], Ids(await host.GetJsonAsync("/api/requests/http?path=" + Uri.EscapeDataString("/a?x=*"))));
        Assert.Equal([third.Id, first.Id], Ids(await host.GetJsonAsync("/api/requests/http?status=200,201")));
        Assert.Empty(Ids(await host.GetJsonAsync("/api/requests/http?tunnel_name=other")));
        Assert.Equal(3, Ids(await host.GetJsonAsync("/api/requests/http?tunnel_name=W*")).Length);

        using var bad = await host.SendAsync(HttpMethod.Get, "/api/requests/http?status=abc", mutating: false);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task The_detail_has_the_raw_body_as_base64_and_the_decoded_text()
    {
        await using var host = InspectorTestHost.Start();
        var exchange = host.Add("POST", "/form", 200, requestBody: "a=1&b=two", responseBody: "{\"ok\":true}", responseType: "application/json", gzip: true,
            requestHeaders: [new("Content-Type", "application/x-www-form-urlencoded"), new("X-Twice", "1"), new("X-Twice", "2")]);

        var detail = await host.GetJsonAsync("/api/requests/http/" + exchange.Id);

        var request = detail.GetProperty("request");
        Assert.Equal(["Host", "Content-Type", "X-Twice", "X-Twice"], request.GetProperty("headers").EnumerateArray().Select(h => h.GetProperty("name").GetString()));
        Assert.Equal("form", request.GetProperty("body").GetProperty("kind").GetString());
        Assert.Equal("a=1&b=two", request.GetProperty("body").GetProperty("text").GetString());
        var body = detail.GetProperty("response").GetProperty("body");
        Assert.Equal(exchange.ResponseBody.ToArray(), Convert.FromBase64String(body.GetProperty("raw").GetString()!));
        Assert.Equal("gzip", body.GetProperty("encoding").GetString());
        Assert.True(body.GetProperty("decoded").GetBoolean());
        Assert.Equal("json", body.GetProperty("kind").GetString());
        Assert.Equal("{\"ok\":true}", body.GetProperty("text").GetString());

        using var missing = await host.SendAsync(HttpMethod.Get, "/api/requests/http/999999999", mutating: false);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("999999999", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_detail_has_the_raw_request_and_response_as_base64_as_ngrok_s_API_gives()
    {
        await using var host = InspectorTestHost.Start();
        var exchange = host.Add("POST", "/items?x=1", requestBody: "name=a", responseBody: "created", requestHeaders: new KeyValuePair<string, string>("X-Trace", "t1"));

        var detail = await host.GetJsonAsync("/api/requests/http/" + exchange.Id);

        var request = Encoding.Latin1.GetString(Convert.FromBase64String(detail.GetProperty("request").GetProperty("raw").GetString()!));
        Assert.Equal("POST /items?x=1 HTTP/1.1\r\nHost: web.localhost:8080\r\nX-Trace: t1\r\n\r\nname=a", request);
        var response = Encoding.Latin1.GetString(Convert.FromBase64String(detail.GetProperty("response").GetProperty("raw").GetString()!));
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncreated", response);

        // The list has no bodies, so no raw either.
        var list = await host.GetJsonAsync("/api/requests/http");
        Assert.False(list.GetProperty("requests")[0].GetProperty("request").TryGetProperty("raw", out _));
    }

    [Fact]
    public async Task A_chunked_body_is_framed_again_in_the_raw_message_so_that_it_still_parses()
    {
        await using var host = InspectorTestHost.Start();
        var chunked = host.Add("POST", "/hook", requestBody: "name=a", requestHeaders: new KeyValuePair<string, string>("Transfer-Encoding", "chunked"));
        var empty = host.Add("POST", "/empty", requestHeaders: new KeyValuePair<string, string>("Transfer-Encoding", "gzip, Chunked"));

        var raw = Encoding.Latin1.GetString(Convert.FromBase64String((await host.GetJsonAsync("/api/requests/http/" + chunked.Id)).GetProperty("request").GetProperty("raw").GetString()!));
        Assert.Equal("POST /hook HTTP/1.1\r\nHost: web.localhost:8080\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nname=a\r\n0\r\n\r\n", raw);
        var rawEmpty = Encoding.Latin1.GetString(Convert.FromBase64String((await host.GetJsonAsync("/api/requests/http/" + empty.Id)).GetProperty("request").GetProperty("raw").GetString()!));
        Assert.EndsWith("Transfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\n", rawEmpty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replays_with_method_path_headers_and_body_changed_and_keeps_the_replay()
    {
        await using var target = new TestHttpServer((head, body) => TestHttpServer.Response(202, "Accepted", "saw " + Encoding.UTF8.GetString(body)));
        await using var host = InspectorTestHost.Start(replayTarget: target.Uri);
        var original = host.Add("POST", "/hook", 500, requestBody: "old", requestHeaders: [new("X-Remove", "1"), new("X-Keep", "k")]);

        using var response = await host.SendAsync(HttpMethod.Post, "/api/requests/http",
            $$"""{"id": {{original.Id}}, "method": "put", "path": "/hook?v=2", "set_headers": {"X-Added": "yes"}, "remove_headers": ["X-Remove"], "body": "new"}""");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var replay = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var id = replay.GetProperty("id").GetInt64();
        Assert.Equal("/api/requests/http/" + id, response.Headers.Location?.OriginalString);
        Assert.True(replay.GetProperty("is_replay").GetBoolean());
        Assert.Equal(original.Id, replay.GetProperty("replay_of").GetInt64());
        Assert.Equal(202, replay.GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal("saw new", replay.GetProperty("response").GetProperty("body").GetProperty("text").GetString());
        var (head, received) = Assert.Single(target.Received);
        Assert.Equal("PUT", head.Method);
        Assert.Equal("/hook?v=2", head.Target);
        Assert.Equal("yes", head.Headers["X-Added"]);
        Assert.Equal("k", head.Headers["X-Keep"]);
        Assert.Null(head.Headers["X-Remove"]);
        Assert.Equal("new", Encoding.UTF8.GetString(received));
        Assert.NotNull(host.Store.Get(id));
    }

    [Fact]
    public async Task Replay_errors_are_statuses_with_a_message()
    {
        await using var host = InspectorTestHost.Start(replayTarget: new Uri("http://127.0.0.1:1/"));
        var original = host.Add("GET", "/x");

        using var refused = await host.SendAsync(HttpMethod.Post, "/api/requests/http", $$"""{"id": {{original.Id}}}""");
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.Contains("refused", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var missing = await host.SendAsync(HttpMethod.Post, "/api/requests/http", """{"id": 987654321}""");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        using var malformed = await host.SendAsync(HttpMethod.Post, "/api/requests/http", """{"id": 1, "path": "no slash"}""");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        using var notJson = await host.SendAsync(HttpMethod.Post, "/api/requests/http", "{");
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);

        using var badHeader = await host.SendAsync(HttpMethod.Post, "/api/requests/http", $$$"""{"id": {{{original.Id}}}, "set_headers": {"Bad Name": "x"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, badHeader.StatusCode);
    }

    [Fact]
    public async Task Delete_clears_the_captures()
    {
        await using var host = InspectorTestHost.Start();
        host.Add();
        host.Add();

        using var response = await host.SendAsync(HttpMethod.Delete, "/api/requests/http");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, host.Store.Count);
    }

    [Fact]
    public async Task Tunnels_and_status_answer_in_the_ngrok_shape()
    {
        await using var host = InspectorTestHost.Start();
        host.Add();

        var tunnels = await host.GetJsonAsync("/api/tunnels");
        Assert.Equal(JsonValueKind.Array, tunnels.GetProperty("tunnels").ValueKind);
        Assert.Equal("/api/tunnels", tunnels.GetProperty("uri").GetString());
        var status = await host.GetJsonAsync("/api/status");
        Assert.Equal(1, status.GetProperty("requests").GetInt32());
        Assert.Equal(host.Server.Url.ToString(), status.GetProperty("inspect_url").GetString());

        using var none = await host.SendAsync(HttpMethod.Get, "/api/tunnels/nope", mutating: false);
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        using var unknown = await host.SendAsync(HttpMethod.Get, "/api/nothing", mutating: false);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Bodies_are_served_as_images_sandboxed_previews_or_downloads_never_as_the_captured_type()
    {
        await using var host = InspectorTestHost.Start();
        var png = host.Store.Add(new CapturedExchange
        {
            Method = "GET",
            Target = "/logo.png",
            Status = 200,
            ResponseHeaders = [new("Content-Type", "image/png")],
            ResponseBody = new byte[] { 0x89, 0x50, 0x4E, 0x47 },
        });
        var html = host.Add("GET", "/page", 200, responseBody: "<h1>hi</h1><script>alert(1)</script>", responseType: "text/html");

        using var image = await host.SendAsync(HttpMethod.Get, $"/api/requests/http/{png.Id}/response/body", mutating: false);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
        Assert.Contains("sandbox", Policy(image), StringComparison.Ordinal);

        using var download = await host.SendAsync(HttpMethod.Get, $"/api/requests/http/{html.Id}/response/body", mutating: false);
        Assert.Equal("application/octet-stream", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);

        using var preview = await host.SendAsync(HttpMethod.Get, $"/api/requests/http/{html.Id}/response/body?preview=1", mutating: false);
        Assert.Equal("text/html", preview.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("sandbox;", Policy(preview), StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", Policy(preview), StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", Policy(preview), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Downloads_a_har_of_the_requests()
    {
        await using var host = InspectorTestHost.Start();
        host.Add("GET", "/one");
        host.Add("GET", "/two");

        using var response = await host.SendAsync(HttpMethod.Get, "/api/requests/http/har", mutating: false);

        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        var entries = HarReader.ReadFromString(await response.Content.ReadAsStringAsync());
        Assert.Equal(["/one", "/two"], entries.Select(e => e.Target));
    }

    [Fact]
    public async Task Serves_the_page_and_its_files_with_a_strict_policy_and_no_cors()
    {
        await using var host = InspectorTestHost.Start();

        foreach (var path in new[] { "/", "/app.js", "/app.css", "/favicon.svg" })
        {
            using var response = await host.SendAsync(HttpMethod.Get, path, mutating: false);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var policy = Policy(response);
            Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
            Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
            Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
            Assert.Equal("DENY", Header(response, "X-Frame-Options"));
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
            Assert.NotNull(response.Headers.ETag);
        }
        using var api = await host.SendAsync(HttpMethod.Get, "/api/status", mutating: false, origin: null);
        Assert.Equal("no-store", Header(api, "Cache-Control"));
        Assert.False(api.Headers.Contains("Access-Control-Allow-Origin"));

        var html = await (await host.SendAsync(HttpMethod.Get, "/", mutating: false)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        // Offline: every file the page loads is the inspector's own.
        foreach (var external in new[] { "src=\"http", "href=\"http", "src=\"//", "href=\"//" })
        {
            Assert.DoesNotContain(external, html, StringComparison.OrdinalIgnoreCase);
        }
    }

    private static long[] Ids(JsonElement list) => list.GetProperty("requests").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).ToArray();

    private static string Policy(HttpResponseMessage response) => Header(response, "Content-Security-Policy");

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values) : string.Empty;
}
