using System.Buffers.Binary;
using System.Net;
using System.Net.Http;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace TunnelPS.Inspector.Tests;

/// <summary>
/// The page with a little real traffic (GETs, a POST with a JSON body, a 404 and a replay) as a 1280x800 PNG. With
/// TUNNELPS_INSPECTOR_SCREENSHOT set, the picture is written there: build/Save-InspectorScreenshot.ps1 makes
/// docs/images/inspector.png this way. Its own fixture, so no other test's requests are in the picture.
/// </summary>
public sealed class InspectorScreenshotTests(InspectorPageFixture fixture) : IClassFixture<InspectorPageFixture>
{
    public const string PathVariable = "TUNNELPS_INSPECTOR_SCREENSHOT";

    [BrowserFact]
    public async Task Screenshot_of_the_page_with_real_traffic()
    {
        var page = await fixture.OpenPageAsync(1280, 800);
        foreach (var (method, path, json, status) in new (HttpMethod, string, string?, HttpStatusCode)[]
        {
            (HttpMethod.Get, "/", null, HttpStatusCode.OK),
            (HttpMethod.Get, "/api/users?page=2&sort=name", null, HttpStatusCode.OK),
            (HttpMethod.Post, "/api/orders", """{"item":"coffee","size":"large","qty":2,"extras":["oat milk","cinnamon"],"customer":{"id":4711,"name":"Ada"}}""", HttpStatusCode.OK),
            (HttpMethod.Get, "/missing/logo.png", null, HttpStatusCode.NotFound),
            (HttpMethod.Get, "/health", null, HttpStatusCode.OK),
        })
        {
            using var response = await fixture.VisitAsync(method, path, json);
            Assert.Equal(status, response.StatusCode);
            await Expect(page.Locator("#rows tr").First.Locator("td.path")).ToHaveTextAsync(path);
        }

        await page.Locator("#rows tr", new PageLocatorOptions { HasText = "/api/orders" }).ClickAsync();
        await page.Locator("#detail").GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Replay", Exact = true }).ClickAsync();
        await Expect(page.Locator("#rows tr").First.Locator(".badge")).ToHaveTextAsync("↻ replay");
        await page.Locator("#detail").GetByRole(AriaRole.Tab, new LocatorGetByRoleOptions { Name = "Request" }).ClickAsync();
        await Expect(page.Locator("#detail .pane pre.code")).ToContainTextAsync("\"oat milk\"");
        await Expect(page.Locator("#rows tr")).ToHaveCountAsync(6);
        await Expect(page.Locator("#rows td.status.s4")).ToHaveTextAsync("404");
        await Expect(page.Locator("#toast")).ToBeHiddenAsync(new LocatorAssertionsToBeHiddenOptions { Timeout = 15_000 }); // the replay's note fades

        var file = Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } wanted
            ? Path.GetFullPath(wanted)
            : Path.Combine(Path.GetTempPath(), $"tunnelps-inspector-{Guid.NewGuid():N}.png");
        try
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Type = ScreenshotType.Png });
            var png = await File.ReadAllBytesAsync(file);
            Assert.True(png.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]), "not a PNG");
            Assert.Equal(1280, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)));
            Assert.Equal(800, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4)));
        }
        finally
        {
            if (Environment.GetEnvironmentVariable(PathVariable) is not { Length: > 0 })
            {
                File.Delete(file);
            }
        }
        await page.Context.CloseAsync();
    }
}
