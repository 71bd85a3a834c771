using System.Net;
using System.Net.Http;
using System.Text;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace TunnelPS.Inspector.Tests;

/// <summary>The web inspector's page in Debian's chromium, over real tunnel traffic on loopback.</summary>
public sealed class InspectorPageTests(InspectorPageFixture fixture) : IClassFixture<InspectorPageFixture>
{
    private static string Unique(string prefix) => $"/{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 14)];

    private static ILocator Row(IPage page, string text) => page.Locator("#rows tr", new PageLocatorOptions { HasText = text });

    [BrowserFact]
    public async Task A_request_through_the_tunnel_appears_live_without_a_reload()
    {
        var loaded = new List<string>();
        var page = await fixture.OpenPageAsync(loaded: loaded);
        await page.EvaluateAsync("() => { window.__sameDocument = 'yes'; }");
        var path = Unique("live") + "?q=1";

        using var response = await fixture.VisitAsync(HttpMethod.Get, path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var row = Row(page, path);
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.Locator("td.method")).ToHaveTextAsync("GET");
        await Expect(row.Locator("td.status")).ToHaveTextAsync("200");
        await Expect(row.Locator("td").Nth(5)).ToHaveTextAsync("web http");   // the name, and which of its URLs
        Assert.Equal("yes", await page.EvaluateAsync<string>("() => window.__sameDocument"));
        // Everything the page loaded came from the inspector itself: no CDN, nothing from another origin.
        lock (loaded)
        {
            Assert.Contains(loaded, url => url.EndsWith("/app.js", StringComparison.Ordinal));
            Assert.All(loaded, url => Assert.StartsWith(fixture.Inspector.Url.ToString(), url, StringComparison.Ordinal));
        }
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task An_exchange_streamed_while_the_page_loads_its_list_stays_listed()
    {
        // The page asks for the list once the event stream is open; an exchange streamed before that list arrives is
        // newer than the list, and the list must not wipe it out.
        var before = Unique("before-load");
        using (var response = await fixture.VisitAsync(HttpMethod.Get, before))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var listAsked = new TaskCompletionSource<IRoute>(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync("**/api/requests/http?limit=*", route =>
        {
            listAsked.TrySetResult(route);
            return Task.CompletedTask;
        });
        await page.GotoAsync(fixture.Inspector.Url.ToString());
        var list = await listAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var snapshot = await list.FetchAsync();   // the list as it stands before the next exchange

        var during = Unique("during-load");
        using (var response = await fixture.VisitAsync(HttpMethod.Get, during))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await Expect(Row(page, during)).ToHaveCountAsync(1);   // streamed
        await list.FulfillAsync(new RouteFulfillOptions { Response = snapshot });

        await Expect(Row(page, before)).ToHaveCountAsync(1);   // the list has arrived
        await Expect(Row(page, during)).ToHaveCountAsync(1);
        await context.CloseAsync();
    }

    [BrowserFact]
    public async Task A_selected_request_shows_its_heads_bodies_and_timing()
    {
        var path = Unique("detail");
        using (var response = await fixture.VisitAsync(HttpMethod.Post, path, json: """{"name":"ada","tags":["x","y"]}"""))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await fixture.WaitForCaptureAsync(e => e.Target == path, "the POST is captured");
        var page = await fixture.OpenPageAsync();

        await Row(page, path).ClickAsync();

        var detail = page.Locator("#detail");
        await Expect(detail.Locator("h2")).ToContainTextAsync("POST " + path);
        await Expect(detail.Locator("dl.facts")).ToContainTextAsync("to the first response byte");
        await detail.GetByRole(AriaRole.Tab, new LocatorGetByRoleOptions { Name = "Response" }).ClickAsync();
        await Expect(detail.Locator(".pane pre.code")).ToHaveTextAsync($"hello POST {path}");
        await detail.GetByRole(AriaRole.Tab, new LocatorGetByRoleOptions { Name = "Request" }).ClickAsync();
        await Expect(detail.Locator(".pane .startline")).ToHaveTextAsync($"POST {path} HTTP/1.1");
        await Expect(detail.Locator(".pane table.headers")).ToContainTextAsync("application/json");
        // JSON is pretty-printed.
        await Expect(detail.Locator(".pane pre.code")).ToHaveTextAsync("{\n  \"name\": \"ada\",\n  \"tags\": [\n    \"x\",\n    \"y\"\n  ]\n}");
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task Edit_and_replay_captures_a_new_exchange_with_the_change()
    {
        var path = Unique("edit");
        using (var response = await fixture.VisitAsync(HttpMethod.Post, path, json: """{"n":1}"""))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var original = await fixture.WaitForCaptureAsync(e => e.Target == path, "the POST is captured");
        var page = await fixture.OpenPageAsync();
        await Row(page, path).ClickAsync();
        await Expect(page.Locator("#detail h2")).ToContainTextAsync(path);

        await page.Locator("#detail").GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Edit and replay…" }).ClickAsync();
        await Expect(page.Locator("#editor")).ToBeVisibleAsync();
        var edited = path + "-edited?v=2";
        await page.Locator("#edit-path").FillAsync(edited);
        var headers = await page.Locator("#edit-headers").InputValueAsync();
        await page.Locator("#edit-headers").FillAsync(headers + "\nX-Edited: by the browser test");
        await page.Locator("#edit-body").FillAsync("""{"n":2}""");
        await page.Locator("#editor button[type=submit]").ClickAsync();
        await Expect(page.Locator("#editor")).ToBeHiddenAsync();

        // A new exchange in the capture, marked as a replay of the original, carrying every change.
        var replay = await fixture.WaitForCaptureAsync(e => e.IsReplay && e.Target == edited, "the edited replay is captured");
        Assert.Equal(original.Id, replay.ReplayOf);
        Assert.Equal("by the browser test", replay.GetRequestHeader("X-Edited"));
        Assert.Equal("""{"n":2}""", Encoding.UTF8.GetString(replay.RequestBody.Span));
        Assert.Equal(200, replay.Status);
        Assert.Equal($"hello POST {edited}", Encoding.UTF8.GetString(replay.ResponseBody.Span));
        lock (fixture.Service.Heads)
        {
            Assert.Contains(fixture.Service.Heads, h => h.StartsWith($"POST {edited} ", StringComparison.Ordinal) && h.Contains("X-Edited: by the browser test", StringComparison.Ordinal));
        }

        // The page lists it as a replay and compares its response with the original's.
        var row = Row(page, edited);
        await Expect(row.Locator(".badge")).ToHaveTextAsync("↻ replay");
        await Expect(page.Locator("#detail h2")).ToContainTextAsync("POST " + edited);
        await Expect(page.Locator("#detail .diff .del").Last).ToHaveTextAsync($"hello POST {path}");
        await Expect(page.Locator("#detail .diff .add").Last).ToHaveTextAsync($"hello POST {edited}");
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task Markup_in_a_captured_path_header_and_body_is_shown_as_text_and_runs_nothing()
    {
        const string PathPayload = "/xss<img/src=x/onerror=window.__pwned='path';alert('path')><script>window.__pwned='path-script'</script>";
        const string HeaderPayload = "<img src=x onerror=\"window.__pwned='header';alert('header')\"><script>window.__pwned='header-script'</script>";
        const string BodyPayload = "<html><body><h1>hi</h1><img src=x onerror=\"window.__pwned='body';alert('body')\"><script>window.__pwned='body-script';alert('body')</script></body></html>";
        var page = await fixture.OpenPageAsync();
        var dialogs = new List<string>();
        page.Dialog += (_, dialog) =>
        {
            lock (dialogs)
            {
                dialogs.Add(dialog.Message);
            }
            _ = dialog.DismissAsync();
        };
        var body = Encoding.UTF8.GetBytes(BodyPayload);
        var head = $"POST {PathPayload} HTTP/1.1\r\nHost: {fixture.PublicUrl.Authority}\r\nX-Evil: {HeaderPayload}\r\n" +
            $"Content-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";

        var status = await fixture.VisitRawAsync(head, body);

        Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal);
        var row = Row(page, "/xss<img");
        await Expect(row.Locator("td.path")).ToHaveTextAsync(PathPayload);
        await row.ClickAsync();
        var detail = page.Locator("#detail");
        await Expect(detail.Locator("h2")).ToContainTextAsync("POST " + PathPayload);
        await detail.GetByRole(AriaRole.Tab, new LocatorGetByRoleOptions { Name = "Request" }).ClickAsync();
        await Expect(detail.Locator(".pane .startline")).ToHaveTextAsync($"POST {PathPayload} HTTP/1.1");
        await Expect(detail.Locator(".pane table.headers tr", new LocatorLocatorOptions { HasText = "X-Evil" }).Locator("td")).ToHaveTextAsync(HeaderPayload);

        // An HTML body is previewed in a sandboxed frame (no scripts), and its source is shown as text.
        var frame = detail.Locator("iframe.preview");
        await Expect(frame).ToHaveAttributeAsync("sandbox", string.Empty);
        await Expect(page.FrameLocator("#detail iframe.preview").Locator("h1")).ToHaveTextAsync("hi");
        var preview = page.Frames.Single(f => f != page.MainFrame);
        Assert.Null(await preview.EvaluateAsync<string?>("() => window.__pwned ?? null"));
        await detail.Locator(".views button", new LocatorLocatorOptions { HasText = "raw" }).ClickAsync();
        await Expect(detail.Locator(".pane pre.code")).ToHaveTextAsync(BodyPayload);

        // Nothing ran: no element was made from the payload, no flag was set, no dialog opened.
        Assert.Equal(0, await page.Locator("img[src='x'], script:not([src])").CountAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__pwned ?? null"));
        lock (dialogs)
        {
            Assert.Empty(dialogs);
        }
        await page.Context.CloseAsync();
    }

    [BrowserFact]
    public async Task A_page_reached_by_a_foreign_host_name_is_refused()
    {
        var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();

        // DNS rebinding: the attacker's name now resolves to 127.0.0.1, and the browser sends it as the Host.
        var response = await page.GotoAsync($"http://{InspectorPageFixture.RebindHost}:{fixture.Inspector.EndPoint.Port}/");

        Assert.NotNull(response);
        Assert.Equal(403, response.Status);
        await Expect(page.Locator("body")).ToContainTextAsync("Refused");
        Assert.Equal(0, await page.Locator("#rows").CountAsync());
        var api = await page.GotoAsync($"http://{InspectorPageFixture.RebindHost}:{fixture.Inspector.EndPoint.Port}/api/requests/http");
        Assert.Equal(403, api!.Status);
        await context.CloseAsync();
    }
}
