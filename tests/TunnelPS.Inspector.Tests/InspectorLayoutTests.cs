using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace TunnelPS.Inspector.Tests;

/// <summary>
/// The page's layout on first use: the list pane can be widened (and remembers it), a cut path shows in full on hover,
/// the pane says it is loading until the first list arrives, and the http and https rows of one tunnel differ.
/// </summary>
public sealed class InspectorLayoutTests(InspectorPageFixture fixture) : IClassFixture<InspectorPageFixture>
{
    private const string ListRoute = "**/api/requests/http?limit=*";

    private static object Summary(long id, string tunnel, string publicUrl, string path, bool replay = false) => new
    {
        id,
        tunnel_name = tunnel,
        public_url = publicUrl,
        start = "2026-12-07T20:00:00Z",
        duration = 1_500_000,
        url = publicUrl + path,
        request = new { method = "GET", uri = path },
        response = new { status = "200 OK", status_code = 200, body_size = 12 },
        is_replay = replay,
        replay_of = replay ? id - 1 : 0,
    };

    /// <summary>A page whose first list is the given exchanges (the live stream still adds real ones).</summary>
    private async Task<IPage> OpenWithListAsync(params object[] requests)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        var json = JsonSerializer.Serialize(new { requests });
        await page.RouteAsync(ListRoute, route => route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "application/json", Body = json }));
        await page.GotoAsync(fixture.Inspector.Url.ToString());
        await Expect(page.Locator("#live.on")).ToHaveTextAsync("live");
        return page;
    }

    [BrowserFact]
    public async Task The_list_says_loading_until_its_first_list_arrives()
    {
        var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var listAsked = new TaskCompletionSource<IRoute>(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync(ListRoute, route =>
        {
            listAsked.TrySetResult(route);
            return Task.CompletedTask;
        });
        await page.GotoAsync(fixture.Inspector.Url.ToString());
        var list = await listAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The list is on its way: the pane must not claim there is nothing.
        await Expect(page.Locator("#empty")).ToBeVisibleAsync();
        await Expect(page.Locator("#empty")).ToContainTextAsync("Loading…");
        await Expect(page.Locator("#empty")).Not.ToContainTextAsync("No requests yet");
        await Expect(page.Locator("#count")).Not.ToContainTextAsync("0 requests");

        await list.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "application/json", Body = """{"requests":[]}""" });

        await Expect(page.Locator("#empty")).ToContainTextAsync("No requests yet");
        await context.CloseAsync();
    }

    [BrowserFact]
    public async Task A_cut_path_shows_in_full_on_hover_also_over_the_replay_badge()
    {
        var path = "/api/items?page=2&sort=name&filter=" + new string('x', 120);
        var page = await OpenWithListAsync(
            Summary(900_001, "web", "http://web.localhost:8080", path),
            Summary(900_002, "web", "http://web.localhost:8080", path, replay: true));
        var replayRow = page.Locator("#rows tr[data-id='900002']");
        await Expect(replayRow).ToHaveCountAsync(1);

        // The cell is cut (ellipsis) at this width, and what the mouse rests on tells the whole path.
        var cut = await replayRow.Locator("td.path").EvaluateAsync<bool>("td => td.scrollWidth > td.clientWidth");
        Assert.True(cut, "the long path is expected to be cut in the list");
        var overBadge = await replayRow.Locator(".badge").EvaluateAsync<string>("b => b.closest('[title]').title");
        Assert.Contains(path, overBadge, StringComparison.Ordinal);
        Assert.Contains("replay of #900001", overBadge, StringComparison.Ordinal);
        var overPath = await page.Locator("#rows tr[data-id='900001'] td.path").GetAttributeAsync("title");
        Assert.Equal(path, overPath);
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task The_http_and_https_rows_of_one_tunnel_are_told_apart()
    {
        var page = await OpenWithListAsync(
            Summary(900_011, "web", "http://web.localhost:8080", "/same"),
            Summary(900_012, "web", "https://web.localhost:8443", "/same"));

        var http = page.Locator("#rows tr[data-id='900011'] td.tunnel-col");
        var https = page.Locator("#rows tr[data-id='900012'] td.tunnel-col");
        await Expect(http).ToContainTextAsync("web");
        await Expect(https).ToContainTextAsync("web");
        Assert.NotEqual(await http.TextContentAsync(), await https.TextContentAsync());
        await Expect(https).ToContainTextAsync("https");
        await Expect(http).ToHaveAttributeAsync("title", "web · http://web.localhost:8080");
        await Expect(https).ToHaveAttributeAsync("title", "web · https://web.localhost:8443");
        // The filter finds a scheme too.
        await page.Locator("#filter").FillAsync("tunnel:https");
        await Expect(page.Locator("#rows tr")).ToHaveCountAsync(1);
        await Expect(page.Locator("#rows tr td.tunnel-col")).ToContainTextAsync("https");
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task The_splitter_resizes_the_list_by_mouse_and_keyboard_and_the_width_is_remembered()
    {
        var page = await OpenWithListAsync();
        var splitter = page.GetByRole(AriaRole.Separator, new PageGetByRoleOptions { Name = "Resize the request list" });
        await Expect(splitter).ToHaveAttributeAsync("aria-orientation", "vertical");
        await Expect(splitter).ToHaveAttributeAsync("tabindex", "0");
        var before = (await page.Locator("section.list").BoundingBoxAsync())!.Width;

        var box = (await splitter.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + (box.Width / 2), box.Y + 200);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(1000, box.Y + 220, new MouseMoveOptions { Steps = 5 });
        await page.Mouse.UpAsync();

        var dragged = (await page.Locator("section.list").BoundingBoxAsync())!.Width;
        Assert.InRange(dragged, 985, 1005);
        Assert.True(dragged > before + 250, $"the list was {before}px wide and is {dragged}px after the drag");
        var now = int.Parse((await splitter.GetAttributeAsync("aria-valuenow"))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(now, 76, 80);   // percent of the split

        // The keyboard moves it too.
        await splitter.FocusAsync();
        await page.Keyboard.PressAsync("ArrowLeft");
        await page.Keyboard.PressAsync("ArrowLeft");
        await Expect(splitter).ToHaveAttributeAsync("aria-valuenow", (now - 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var keyed = (await page.Locator("section.list").BoundingBoxAsync())!.Width;
        Assert.True(keyed < dragged - 30, $"ArrowLeft narrows the list ({dragged}px, then {keyed}px)");

        await page.ReloadAsync();
        await Expect(page.Locator("#live.on")).ToHaveTextAsync("live");
        var kept = (await page.Locator("section.list").BoundingBoxAsync())!.Width;
        Assert.InRange(kept, keyed - 2, keyed + 2);
        await Expect(splitter).ToHaveAttributeAsync("aria-valuenow", (now - 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.Context.CloseAsync();
    }
}
