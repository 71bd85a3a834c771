using System.IO.Compression;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;

namespace TunnelPS.Engine.Tests.Inspector;

/// <summary>An inspector on 127.0.0.1 (port 0) showing one capture store, and a client for its API.</summary>
internal sealed class InspectorTestHost : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private InspectorTestHost(InspectorServer server, CaptureStore store)
    {
        Server = server;
        Store = store;
        Http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { BaseAddress = server.Url, Timeout = Deadline };
    }

    public InspectorServer Server { get; }

    public CaptureStore Store { get; }

    public HttpClient Http { get; }

    public static InspectorTestHost Start(Uri? replayTarget = null, Func<InspectorOptions, InspectorOptions>? configure = null, string tunnelName = "web")
    {
        var options = new InspectorOptions { Address = new InspectorAddress(System.Net.IPAddress.Loopback, 0) };
        var server = InspectorServer.Start(configure is null ? options : configure(options));
        var store = new CaptureStore();
        server.Catalog.SetCaptures([new InspectedCapture(tunnelName, store, replayTarget)]);
        return new InspectorTestHost(server, store);
    }

    /// <summary>Sends a request; <paramref name="mutating"/> adds the X-TunnelPS-Request header a mutating call needs.</summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json = null, bool mutating = true, string? host = null, string? origin = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        if (mutating)
        {
            request.Headers.Add("X-TunnelPS-Request", "1");
        }
        if (host is not null)
        {
            request.Headers.Host = host;
        }
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        return Http.SendAsync(request);
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Get, path, mutating: false);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>A captured exchange as the tap would have stored it.</summary>
    public CapturedExchange Add(string method = "GET", string target = "/", int status = 200, string? requestBody = null, string? responseBody = null, string responseType = "text/plain; charset=utf-8", bool gzip = false, params KeyValuePair<string, string>[] requestHeaders)
    {
        var responseBytes = responseBody is null ? [] : Encoding.UTF8.GetBytes(responseBody);
        var responseHeaders = new List<KeyValuePair<string, string>> { new("Content-Type", responseType) };
        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var zip = new GZipStream(compressed, CompressionLevel.Fastest))
            {
                zip.Write(responseBytes);
            }
            responseBytes = compressed.ToArray();
            responseHeaders.Add(new("Content-Encoding", "gzip"));
        }
        var headers = new List<KeyValuePair<string, string>> { new("Host", "web.localhost:8080") };
        headers.AddRange(requestHeaders);
        var requestBytes = requestBody is null ? [] : Encoding.UTF8.GetBytes(requestBody);
        return Store.Add(new CapturedExchange
        {
            TunnelName = "web",
            PublicUrl = "http://web.localhost:8080",
            LocalAddress = "localhost:3000",
            ClientAddress = "127.0.0.1:50000",
            Scheme = "http",
            Method = method,
            Target = target,
            RequestHeaders = headers,
            RequestBody = requestBytes,
            RequestBodySize = requestBytes.Length,
            Status = status,
            Reason = status == 200 ? "OK" : "Status",
            ResponseHeaders = responseHeaders,
            ResponseBody = responseBytes,
            ResponseBodySize = responseBytes.Length,
            StartTime = DateTimeOffset.UtcNow,
            Duration = TimeSpan.FromMilliseconds(12.5),
            TimeToFirstByte = TimeSpan.FromMilliseconds(10),
        });
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}
