using System.Net;
using System.Net.Http;
using TunnelPS.Engine.Tests.Inspection;

namespace TunnelPS.Engine.Tests.Inspector;

public sealed class InspectorAccessTests
{
    [Theory]
    [InlineData("evil.example:{port}")]
    [InlineData("evil.example")]
    [InlineData("127.0.0.1.nip.io:{port}")]
    [InlineData("localhost.evil.example:{port}")]
    [InlineData("127.0.0.1:1")]
    [InlineData("localhost")]
    public async Task A_foreign_host_is_refused(string host)
    {
        await using var inspector = InspectorTestHost.Start();
        inspector.Add();
        var port = inspector.Server.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        foreach (var path in new[] { "/", "/api/requests/http", "/api/events" })
        {
            using var response = await inspector.SendAsync(HttpMethod.Get, path, mutating: false, host: host.Replace("{port}", port, StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.DoesNotContain("tunnel_name", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("127.0.0.1:{port}")]
    [InlineData("localhost:{port}")]
    [InlineData("LOCALHOST:{port}")]
    [InlineData("[::1]:{port}")]
    public async Task The_inspector_s_own_addresses_are_served(string host)
    {
        await using var inspector = InspectorTestHost.Start();
        var port = inspector.Server.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var response = await inspector.SendAsync(HttpMethod.Get, "/api/status", mutating: false, host: host.Replace("{port}", port, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/jsonp")]
    [InlineData(null)]
    public async Task A_POST_a_form_can_send_needs_the_custom_header(string? contentType)
    {
        await using var inspector = InspectorTestHost.Start();
        var exchange = inspector.Add();

        using var replay = new HttpRequestMessage(HttpMethod.Post, "/api/requests/http");
        replay.Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes($$"""{"id": {{exchange.Id}}}"""));
        if (contentType is not null)
        {
            replay.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        using var response = await inspector.Http.SendAsync(replay);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("X-TunnelPS-Request", text, StringComparison.Ordinal);
        Assert.Contains("application/json", text, StringComparison.Ordinal);
        Assert.Equal(1, inspector.Store.Count);
    }

    [Fact]
    public async Task A_DELETE_and_a_JSON_POST_are_taken_without_the_custom_header_as_ngrok_s_API_takes_them()
    {
        await using var target = new TestHttpServer((head, body) => TestHttpServer.Response(200, "OK", "again"));
        await using var inspector = InspectorTestHost.Start(replayTarget: target.Uri);
        var exchange = inspector.Add();

        // The npm ngrok client's replayRequest: a JSON POST without the header, success told by 204.
        using var replay = await inspector.SendAsync(HttpMethod.Post, "/api/requests/http", $$"""{"id": "{{exchange.Id}}"}""", mutating: false);
        Assert.Equal(HttpStatusCode.NoContent, replay.StatusCode);
        Assert.Equal(2, inspector.Store.Count);
        Assert.Equal("/api/requests/http/" + inspector.Store.Snapshot().Max(e => e.Id), replay.Headers.Location?.OriginalString);

        // With the header (the page, the cmdlets): 201 and the new exchange.
        using var withHeader = await inspector.SendAsync(HttpMethod.Post, "/api/requests/http", $$"""{"id": {{exchange.Id}}}""");
        Assert.Equal(HttpStatusCode.Created, withHeader.StatusCode);

        // deleteAllRequests: DELETE with the body {} as application/json.
        using var delete = await inspector.SendAsync(HttpMethod.Delete, "/api/requests/http", "{}", mutating: false);
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(0, inspector.Store.Count);
    }

    [Fact]
    public async Task A_JSON_POST_without_the_header_from_a_foreign_origin_or_cross_site_is_refused()
    {
        await using var inspector = InspectorTestHost.Start();
        var exchange = inspector.Add();

        using var foreign = await inspector.SendAsync(HttpMethod.Post, "/api/requests/http", $$"""{"id": {{exchange.Id}}}""", mutating: false, origin: "http://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Contains("evil.example", await foreign.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var crossSite = new HttpRequestMessage(HttpMethod.Delete, "/api/requests/http");
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var crossSiteResponse = await inspector.Http.SendAsync(crossSite);
        Assert.Equal(HttpStatusCode.Forbidden, crossSiteResponse.StatusCode);
        Assert.Equal(1, inspector.Store.Count);
    }

    [Fact]
    public async Task A_foreign_origin_or_a_cross_site_fetch_is_refused_even_with_the_header()
    {
        await using var inspector = InspectorTestHost.Start();
        inspector.Add();

        using var foreign = await inspector.SendAsync(HttpMethod.Delete, "/api/requests/http", origin: "http://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var nullOrigin = await inspector.SendAsync(HttpMethod.Delete, "/api/requests/http", origin: "null");
        Assert.Equal(HttpStatusCode.Forbidden, nullOrigin.StatusCode);

        using var crossSite = new HttpRequestMessage(HttpMethod.Get, "/api/requests/http");
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        using var crossSiteResponse = await inspector.Http.SendAsync(crossSite);
        Assert.Equal(HttpStatusCode.Forbidden, crossSiteResponse.StatusCode);
        Assert.Equal(1, inspector.Store.Count);

        using var sameOrigin = await inspector.SendAsync(HttpMethod.Delete, "/api/requests/http", origin: inspector.Server.Url.GetLeftPart(UriPartial.Authority));
        Assert.Equal(HttpStatusCode.NoContent, sameOrigin.StatusCode);
    }

    [Fact]
    public async Task A_preflight_gets_no_cors_grant()
    {
        await using var inspector = InspectorTestHost.Start();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/requests/http");
        preflight.Headers.Add("Origin", "http://evil.example");
        preflight.Headers.Add("Access-Control-Request-Method", "DELETE");

        using var response = await inspector.Http.SendAsync(preflight);

        Assert.False(response.IsSuccessStatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Methods"));
    }
}
