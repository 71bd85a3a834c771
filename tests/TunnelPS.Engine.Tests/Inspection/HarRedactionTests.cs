using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>HarWriter with Redact: credential headers, secret query parameters, form fields and JSON properties.</summary>
public sealed class HarRedactionTests
{
    private static readonly HarWriterOptions Redact = new() { Redact = true };

    [Theory]
    [InlineData("Authorization")]
    [InlineData("proxy-authorization")]
    [InlineData("Cookie")]
    [InlineData("Set-Cookie")]
    [InlineData("X-Api-Key")]
    [InlineData("Api-Key")]
    [InlineData("X-Auth-Token")]
    [InlineData("X-Access-Token")]
    [InlineData("X-Csrf-Token")]
    [InlineData("X-XSRF-TOKEN")]
    [InlineData("X-Goog-Api-Key")]
    [InlineData("X-Amz-Security-Token")]
    [InlineData("X-Client-Secret")]
    [InlineData("Stripe-Signature")]
    [InlineData("X-Hub-Signature-256")]
    [InlineData("X-Admin-Password")]
    public void Credential_headers_are_secret(string name) => Assert.True(HarRedactor.IsSecretHeader(name), name);

    [Theory]
    [InlineData("Host")]
    [InlineData("Content-Type")]
    [InlineData("Accept")]
    [InlineData("User-Agent")]
    [InlineData("X-Request-Id")]
    [InlineData("X-Forwarded-For")]
    [InlineData("Keep-Alive")]
    [InlineData("Tokenizer")]
    public void Ordinary_headers_are_not(string name) => Assert.False(HarRedactor.IsSecretHeader(name), name);

    [Theory]
    [InlineData("token")]
    [InlineData("access_token")]
    [InlineData("refresh_token")]
    [InlineData("id_token")]
    [InlineData("api_key")]
    [InlineData("api-key")]
    [InlineData("apikey")]
    [InlineData("apiKey")]
    [InlineData("key")]
    [InlineData("secret")]
    [InlineData("client_secret")]
    [InlineData("clientSecret")]
    [InlineData("password")]
    [InlineData("Password")]
    [InlineData("new_password")]
    [InlineData("passwd")]
    [InlineData("pwd")]
    [InlineData("sig")]
    [InlineData("signature")]
    [InlineData("X-Amz-Signature")]
    [InlineData("code")]
    [InlineData("auth")]
    [InlineData("session")]
    [InlineData("sessionId")]
    [InlineData("csrf_token")]
    [InlineData("accessToken")]
    [InlineData("private_key")]
    [InlineData("privateKey")]
    public void Secret_looking_names_are_secret(string name) => Assert.True(HarRedactor.IsSecretName(name), name);

    [Theory]
    [InlineData("id")]
    [InlineData("page")]
    [InlineData("q")]
    [InlineData("name")]
    [InlineData("state")]
    [InlineData("user")]
    [InlineData("monkey")]
    [InlineData("keyboard")]
    [InlineData("expires_in")]
    [InlineData("")]
    public void Ordinary_names_are_not(string name) => Assert.False(HarRedactor.IsSecretName(name), name);

    [Fact]
    public void Credential_headers_are_replaced_and_ordinary_ones_kept()
    {
        var har = Write(Exchange(
            requestHeaders: [new("Host", "web.example.com"), new("X-Api-Key", "k-live-1"), new("Api-Key", "k-live-2"), new("X-Auth-Token", "t-1"),
                new("X-Access-Token", "t-2"), new("X-CSRF-Token", "c-1"), new("X-Goog-Api-Key", "g-1"), new("Accept", "text/html")],
            responseHeaders: [new("Content-Type", "text/plain"), new("X-Request-Id", "req-7"), new("X-Upstream-Signature", "s-1")]));

        var request = Entry(har).GetProperty("request");
        Assert.Equal("web.example.com", Header(request, "Host"));
        Assert.Equal("text/html", Header(request, "Accept"));
        foreach (var name in new[] { "X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token", "X-CSRF-Token", "X-Goog-Api-Key" })
        {
            Assert.Equal("REDACTED", Header(request, name));
        }
        var response = Entry(har).GetProperty("response");
        Assert.Equal("req-7", Header(response, "X-Request-Id"));
        Assert.Equal("REDACTED", Header(response, "X-Upstream-Signature"));
        AssertNoneOf(har, "k-live-1", "k-live-2", "t-1", "t-2", "c-1", "g-1", "s-1");
    }

    [Fact]
    public void Secret_query_parameters_are_replaced_in_the_url_and_the_queryString()
    {
        var har = Write(Exchange(target: "/callback?code=oauth-code-1&state=s-42&access_token=at-1&api-key=k-1&page=2&clientSecret=cs-1&flag"));

        var request = Entry(har).GetProperty("request");
        Assert.Equal("https://web.example.com/callback?code=REDACTED&state=s-42&access_token=REDACTED&api-key=REDACTED&page=2&clientSecret=REDACTED&flag",
            request.GetProperty("url").GetString());
        var query = request.GetProperty("queryString").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("value").GetString());
        Assert.Equal("REDACTED", query["code"]);
        Assert.Equal("s-42", query["state"]);
        Assert.Equal("REDACTED", query["access_token"]);
        Assert.Equal("REDACTED", query["api-key"]);
        Assert.Equal("2", query["page"]);
        Assert.Equal("REDACTED", query["clientSecret"]);
        Assert.Equal("", query["flag"]);
        AssertNoneOf(har, "oauth-code-1", "at-1", "k-1", "cs-1");
    }

    [Fact]
    public void A_percent_encoded_secret_name_is_recognised()
    {
        var har = Write(Exchange(target: "/x?access%5Ftoken=at-9&pass+word=nope"));

        Assert.Equal("https://web.example.com/x?access%5Ftoken=REDACTED&pass+word=nope", Entry(har).GetProperty("request").GetProperty("url").GetString());
    }

    [Fact]
    public void Location_Content_Location_Referer_and_redirectURL_lose_their_secret_query_values()
    {
        var har = Write(Exchange(
            requestHeaders: [new("Host", "web.example.com"), new("Referer", "https://idp.example/authorize?client_id=app&code=c-77")],
            status: 302,
            responseHeaders: [new("Location", "https://app.example/cb?code=c-78&state=st#frag"), new("Content-Location", "/doc?token=t-79")]));

        var entry = Entry(har);
        Assert.Equal("https://idp.example/authorize?client_id=app&code=REDACTED", Header(entry.GetProperty("request"), "Referer"));
        Assert.Equal("https://app.example/cb?code=REDACTED&state=st#frag", Header(entry.GetProperty("response"), "Location"));
        Assert.Equal("/doc?token=REDACTED", Header(entry.GetProperty("response"), "Content-Location"));
        Assert.Equal("https://app.example/cb?code=REDACTED&state=st#frag", entry.GetProperty("response").GetProperty("redirectURL").GetString());
        AssertNoneOf(har, "c-77", "c-78", "t-79");
    }

    [Fact]
    public void Form_fields_are_replaced_in_postData_text_and_params()
    {
        var har = Write(Exchange(
            method: "POST",
            requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "application/x-www-form-urlencoded")],
            requestBody: "user=alice&password=hunter%212&remember=1&csrf_token=zz-1&client_secret=cs+2"));

        var postData = Entry(har).GetProperty("request").GetProperty("postData");
        Assert.Equal("user=alice&password=REDACTED&remember=1&csrf_token=REDACTED&client_secret=REDACTED", postData.GetProperty("text").GetString());
        var fields = postData.GetProperty("params").EnumerateArray().Select(p => (p.GetProperty("name").GetString(), p.GetProperty("value").GetString())).ToArray();
        Assert.Equal([("user", "alice"), ("password", "REDACTED"), ("remember", "1"), ("csrf_token", "REDACTED"), ("client_secret", "REDACTED")], fields);
        AssertNoneOf(har, "hunter", "zz-1", "cs+2", "cs 2");
    }

    [Fact]
    public void Without_Redact_form_params_are_written_decoded()
    {
        var har = Write(Exchange(
            method: "POST",
            requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            requestBody: "user=alice+b&password=hunter%212"), new HarWriterOptions());

        var postData = Entry(har).GetProperty("request").GetProperty("postData");
        Assert.Equal("user=alice+b&password=hunter%212", postData.GetProperty("text").GetString());
        var fields = postData.GetProperty("params").EnumerateArray().Select(p => (p.GetProperty("name").GetString(), p.GetProperty("value").GetString())).ToArray();
        Assert.Equal([("user", "alice b"), ("password", "hunter!2")], fields);
    }

    [Fact]
    public void Json_properties_are_replaced_at_any_depth_and_the_json_stays_valid()
    {
        const string body = """
            {"user":"alice","password":"hunter2","profile":{"apiKey":"k-123","name":"A"},
             "items":[{"token":"t-1"},{"id":2}],"auth":{"user":"u","pass":"p-9"},"code":4711,"ok":true,"pass\u0077ord2":"x-1"}
            """;
        var har = Write(Exchange(method: "POST", requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "application/json")], requestBody: body));

        var text = Entry(har).GetProperty("request").GetProperty("postData").GetProperty("text").GetString()!;
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal("alice", root.GetProperty("user").GetString());
        Assert.Equal("REDACTED", root.GetProperty("password").GetString());
        Assert.Equal("REDACTED", root.GetProperty("profile").GetProperty("apiKey").GetString());
        Assert.Equal("A", root.GetProperty("profile").GetProperty("name").GetString());
        Assert.Equal("REDACTED", root.GetProperty("items")[0].GetProperty("token").GetString());
        Assert.Equal(2, root.GetProperty("items")[1].GetProperty("id").GetInt32());
        Assert.Equal("REDACTED", root.GetProperty("auth").GetString());
        Assert.Equal("REDACTED", root.GetProperty("code").GetString());
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Equal("REDACTED", root.GetProperty("password2").GetString());
        AssertNoneOf(har, "hunter2", "k-123", "t-1", "p-9", "4711", "x-1");
    }

    [Fact]
    public void A_compressed_json_response_is_redacted_after_decoding()
    {
        var har = Write(Exchange(
            responseHeaders: [new("Content-Type", "application/json; charset=utf-8"), new("Content-Encoding", "gzip")],
            responseBody: Gzip("""{"access_token":"at-55","refresh_token":"rt-55","expires_in":3600}""")));

        var text = Entry(har).GetProperty("response").GetProperty("content").GetProperty("text").GetString();
        Assert.Equal("""{"access_token":"REDACTED","refresh_token":"REDACTED","expires_in":3600}""", text);
    }

    [Fact]
    public void A_form_encoded_response_is_redacted()
    {
        var har = Write(Exchange(
            responseHeaders: [new("Content-Type", "application/x-www-form-urlencoded")],
            responseBody: Encoding.UTF8.GetBytes("access_token=gho_secret&scope=repo")));

        Assert.Equal("access_token=REDACTED&scope=repo", Entry(har).GetProperty("response").GetProperty("content").GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("{\"name\":\"x\",\"password\":\"hunt", "{\"name\":\"x\",\"password\":\"REDACTED\"")]
    [InlineData("{\"name\":\"x\",\"password\": ", "{\"name\":\"x\",\"password\": ")]
    [InlineData("{\"name\":\"x\",\"pin\":12,\"code\":42", "{\"name\":\"x\",\"pin\":12,\"code\":\"REDACTED\"")]
    [InlineData("{\"name\":\"x\",\"auth\":{\"user\":\"u\",\"pass\":\"p", "{\"name\":\"x\",\"auth\":\"REDACTED\"")]
    [InlineData("{\"a\":1,\"secret\":\"s1\"} trailing {\"token\":\"t2\"}", "{\"a\":1,\"secret\":\"REDACTED\"} trailing {\"token\":\"REDACTED\"}")]
    [InlineData("{\"token\":\"a\"}\n{\"token\":\"b\",\"n\":1}", "{\"token\":\"REDACTED\"}\n{\"token\":\"REDACTED\",\"n\":1}")]
    [InlineData("[{\"token\":\"a\\\"b\"}, 1]", "[{\"token\":\"REDACTED\"}, 1]")]
    public void A_json_body_cut_short_or_not_quite_json_is_redacted_up_to_its_end(string body, string expected)
    {
        Assert.Equal(expected, HarRedactor.RedactJson(body));
    }

    [Fact]
    public void A_truncated_json_request_body_does_not_leak_the_cut_secret()
    {
        var har = Write(Exchange(
            method: "POST",
            requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "application/json")],
            requestBody: "{\"user\":\"alice\",\"password\":\"hunter2-and-mo", requestTruncated: true));

        Assert.Equal("{\"user\":\"alice\",\"password\":\"REDACTED\"", Entry(har).GetProperty("request").GetProperty("postData").GetProperty("text").GetString());
        AssertNoneOf(har, "hunter2");
    }

    [Fact]
    public void Other_bodies_are_left_as_they_are()
    {
        var har = Write(Exchange(
            method: "POST",
            requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "text/plain")],
            requestBody: "password=visible-in-plain-text"));

        Assert.Equal("password=visible-in-plain-text", Entry(har).GetProperty("request").GetProperty("postData").GetProperty("text").GetString());
    }

    [Fact]
    public void A_redacted_HAR_is_valid_HAR_1_2_and_reads_back()
    {
        var exchange = Exchange(
            method: "POST",
            target: "/login?token=t-1&next=%2Fhome",
            requestHeaders: [new("Host", "web.example.com"), new("Content-Type", "application/json"), new("Cookie", "sid=abc"), new("X-Api-Key", "k")],
            requestBody: """{"user":"alice","password":"hunter2"}""",
            responseHeaders: [new("Content-Type", "application/json"), new("Set-Cookie", "sid=new; HttpOnly")],
            responseBody: Encoding.UTF8.GetBytes("""{"session":"s-1","ok":true}"""));
        var har = Write(exchange);

        using var doc = JsonDocument.Parse(har);
        HarValidator.Validate(doc.RootElement);
        var read = Assert.Single(HarReader.ReadFromString(har));
        Assert.Equal("/login?token=REDACTED&next=%2Fhome", read.Target);
        Assert.Equal("""{"user":"alice","password":"REDACTED"}""", Encoding.UTF8.GetString(read.RequestBody.Span));
        Assert.Equal("REDACTED", read.GetRequestHeader("X-Api-Key"));
        Assert.Equal("""{"session":"REDACTED","ok":true}""", Encoding.UTF8.GetString(read.ResponseBody.Span));
    }

    [Fact]
    public void Without_Redact_nothing_is_replaced()
    {
        var har = Write(Exchange(
            target: "/cb?code=c-1",
            requestHeaders: [new("Host", "web.example.com"), new("X-Api-Key", "k-1")],
            responseHeaders: [new("Content-Type", "application/json")],
            responseBody: Encoding.UTF8.GetBytes("""{"access_token":"at-1"}""")), new HarWriterOptions());

        Assert.DoesNotContain("REDACTED", har, StringComparison.Ordinal);
        Assert.Contains("c-1", har, StringComparison.Ordinal);
        Assert.Contains("k-1", har, StringComparison.Ordinal);
        Assert.Contains("at-1", har, StringComparison.Ordinal);
    }

    [Fact]
    public void RedactedHeaders_adds_names_to_the_credential_headers()
    {
        var har = Write(Exchange(requestHeaders: [new("Host", "web.example.com"), new("X-Tenant", "acme"), new("Authorization", "Bearer b")]),
            new HarWriterOptions { Redact = true, RedactedHeaders = ["x-tenant"] });

        var request = Entry(har).GetProperty("request");
        Assert.Equal("REDACTED", Header(request, "X-Tenant"));
        Assert.Equal("REDACTED", Header(request, "Authorization"));
    }

    private static CapturedExchange Exchange(
        string method = "GET",
        string target = "/",
        KeyValuePair<string, string>[]? requestHeaders = null,
        string? requestBody = null,
        bool requestTruncated = false,
        int status = 200,
        KeyValuePair<string, string>[]? responseHeaders = null,
        byte[]? responseBody = null)
    {
        var request = requestBody is null ? [] : Encoding.UTF8.GetBytes(requestBody);
        return new CapturedExchange
        {
            TunnelName = "web",
            PublicUrl = "https://web.example.com",
            Scheme = "https",
            Host = "web.example.com",
            Method = method,
            Target = target,
            RequestHeaders = requestHeaders ?? [new("Host", "web.example.com")],
            RequestBody = request,
            RequestBodySize = request.Length + (requestTruncated ? 100 : 0),
            RequestTruncated = requestTruncated,
            Status = status,
            Reason = "OK",
            ResponseHeaders = responseHeaders ?? [new("Content-Type", "text/plain")],
            ResponseBody = responseBody ?? [],
            ResponseBodySize = responseBody?.Length ?? 0,
            StartTime = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.Zero),
        };
    }

    private static string Write(CapturedExchange exchange, HarWriterOptions? options = null)
    {
        var har = HarWriter.WriteToString([exchange], options ?? Redact);
        using var doc = JsonDocument.Parse(har);
        HarValidator.Validate(doc.RootElement);
        return har;
    }

    private static JsonElement Entry(string har) =>
        JsonDocument.Parse(har).RootElement.GetProperty("log").GetProperty("entries")[0].Clone();

    private static string? Header(JsonElement message, string name) =>
        message.GetProperty("headers").EnumerateArray().Single(h => h.GetProperty("name").GetString() == name).GetProperty("value").GetString();

    private static void AssertNoneOf(string har, params string[] secrets)
    {
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, har, StringComparison.Ordinal);
        }
    }

    private static byte[] Gzip(string text)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }
        return output.ToArray();
    }
}
