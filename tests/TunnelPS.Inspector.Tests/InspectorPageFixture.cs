using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using Microsoft.Playwright;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Inspector.Tests;

/// <summary>
/// Real parts on loopback for the page's tests: a tunnel server, a local service, a client with one http tunnel
/// ("web") whose capture the inspector shows, the inspector on 127.0.0.1 (port 0), and Debian's chromium driven by
/// Playwright. One set for the test class; every test opens its own browser context.
/// </summary>
public sealed class InspectorPageFixture : IAsyncLifetime
{
    /// <summary>The name a browser maps to 127.0.0.1 (--host-resolver-rules): what a DNS rebinding attack sends.</summary>
    public const string RebindHost = "rebind.test";

    private TunnelServer? _server;
    private LocalHttpService? _service;
    private TunnelClient? _client;
    private IPlaywright? _playwright;

    public InspectorServer Inspector { get; private set; } = null!;

    public CaptureStore Store { get; private set; } = null!;

    /// <summary>The tunnel's public URL, e.g. http://web.localhost:41234.</summary>
    public Uri PublicUrl { get; private set; } = null!;

    internal LocalHttpService Service => _service!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Visitor { get; } = TunnelHarness.Visitor();

    public async Task InitializeAsync()
    {
        if (Chromium.ExecutablePath is not { } chromium)
        {
            return; // every test skips (BrowserFact)
        }

        _service = new LocalHttpService(static (method, target) => target.StartsWith("/missing", StringComparison.Ordinal)
            ? (404, "no such page: " + target)
            : (200, $"hello {method} {target}"));
        _server = await TunnelHarness.StartServerAsync();
        _client = new TunnelClient(TunnelHarness.ClientOptions(_server, TunnelHarness.Http(_service.Port)));
        var endpoints = await _client.StartAsync();
        PublicUrl = new Uri(endpoints[0].PublicUrl);
        Store = _client.CaptureFor(endpoints[0].Definition) ?? throw new InvalidOperationException("The http tunnel has no capture.");

        Inspector = InspectorServer.Start(new InspectorOptions { Address = new InspectorAddress(IPAddress.Loopback, 0) });
        Inspector.Catalog.SetCaptures([new InspectedCapture("web", Store, new Uri($"http://127.0.0.1:{_service.Port}/"))]);
        Inspector.Catalog.AddClient(_client);

        // The browser comes from apt, never from Playwright's download.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        _playwright = await Playwright.CreateAsync();
        var args = new List<string> { $"--host-resolver-rules=MAP {RebindHost} 127.0.0.1" };
        if (Environment.UserName == "root")
        {
            args.Add("--no-sandbox"); // Chromium's sandbox cannot run as root
        }
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = args,
        });
    }

    /// <summary>A new page at the inspector, once its live stream is connected.</summary>
    /// <param name="loaded">When given, receives the URL of every request the page makes.</param>
    public async Task<IPage> OpenPageAsync(int width = 1280, int height = 800, List<string>? loaded = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        if (loaded is not null)
        {
            page.Request += (_, request) =>
            {
                lock (loaded)
                {
                    loaded.Add(request.Url);
                }
            };
        }
        await page.GotoAsync(Inspector.Url.ToString());
        await Assertions.Expect(page.Locator("#live.on")).ToHaveTextAsync("live");
        return page;
    }

    /// <summary>A request through the tunnel, as a visitor sends it.</summary>
    public async Task<HttpResponseMessage> VisitAsync(HttpMethod method, string pathAndQuery, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(PublicUrl, pathAndQuery));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        var response = await Visitor.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>
    /// Sends bytes as they are to the tunnel's public port (a request no HttpClient would send: markup in the target)
    /// and returns the response's status line.
    /// </summary>
    public async Task<string> VisitRawAsync(string head, byte[] body)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, PublicUrl.Port));
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray());
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TunnelHarness.Deadline);
        return await reader.ReadLineAsync(timeout.Token) ?? string.Empty;
    }

    /// <summary>The captured exchange that matches, once the store holds it.</summary>
    public async Task<CapturedExchange> WaitForCaptureAsync(Func<CapturedExchange, bool> match, string what)
    {
        CapturedExchange? found = null;
        await TunnelHarness.WaitUntilAsync(() => (found = Store.Snapshot().FirstOrDefault(match)) is not null, what);
        return found!;
    }

    public async Task DisposeAsync()
    {
        Visitor.Dispose();
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
        if (Inspector is not null)
        {
            await Inspector.StopAsync();
        }
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_service is not null)
        {
            await _service.DisposeAsync();
        }
    }
}
