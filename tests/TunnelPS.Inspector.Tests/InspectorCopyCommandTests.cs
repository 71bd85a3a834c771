using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Playwright;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace TunnelPS.Inspector.Tests;

/// <summary>
/// "Copy as curl" and "Copy as Invoke-WebRequest" of a hostile capture (a visitor's or an imported HAR's): the command
/// goes to the tunnel's own public origin, never to a host named by the captured Url, and never reads a local file.
/// The curl command is run as a user would run it, with a listener on 127.0.0.2 standing for the visitor's host.
/// </summary>
public sealed class InspectorCopyCommandTests(InspectorPageFixture fixture) : IClassFixture<InspectorPageFixture>
{
    private static ILocator Row(IPage page, string text) => page.Locator("#rows tr", new PageLocatorOptions { HasText = text });

    public static TheoryData<string> HostileShapes => new()
    {
        "userinfo-host",   // Host: web.localhost:PORT@127.0.0.2:EVIL, target /collect
        "userinfo-target", // Host: web.localhost:PORT, target @127.0.0.2:EVIL/collect
        "absolute-target", // target http://127.0.0.2:EVIL/collect
    };

    [BrowserTheory]
    [MemberData(nameof(HostileShapes))]
    public async Task Copy_as_curl_of_a_hostile_capture_targets_the_tunnel_and_sends_the_body_as_text(string shape)
    {
        using var evil = new Socket(SocketType.Stream, ProtocolType.Tcp);
        evil.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        evil.Listen(4);
        var evilPort = ((IPEndPoint)evil.LocalEndPoint!).Port;
        var secretFile = Path.Combine(Path.GetTempPath(), $"tunnelps-admin-secret-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(secretFile, "admin's private key");
        try
        {
            var marker = $"/collect-{Guid.NewGuid():N}"[..20];
            var authority = fixture.PublicUrl.Authority;
            var (host, target) = shape switch
            {
                "userinfo-host" => ($"{authority}@127.0.0.2:{evilPort}", marker),
                "userinfo-target" => (authority, $"@127.0.0.2:{evilPort}{marker}"),
                _ => (authority, $"http://127.0.0.2:{evilPort}{marker}"),
            };
            var body = "@" + secretFile;
            var stored = fixture.Store.Add(Hostile(host, target, body));
            // The capture itself names the visitor's host (its Url no longer does where the host is not valid).
            Assert.Contains("127.0.0.2", stored.GetRequestHeader("Host") + stored.Target, StringComparison.Ordinal);

            var command = await CopyAsync(fixture, marker, "Copy as curl");

            // The request goes to the tunnel's origin; a target that was not a path becomes one on it.
            Assert.Contains($"'{fixture.PublicUrl.GetLeftPart(UriPartial.Authority)}/", command, StringComparison.Ordinal);
            if (shape != "userinfo-target")
            {
                Assert.DoesNotContain("127.0.0.2", command, StringComparison.Ordinal);
            }
            var (exit, output) = await RunAsync("bash", "-c", command);
            Assert.True(exit == 0, $"curl failed ({exit}): {output}\n{command}");
            var replayed = await fixture.WaitForCaptureAsync(e => e.Id > stored.Id && e.Path.EndsWith(marker, StringComparison.Ordinal), "curl's request reaches the tunnel");
            Assert.Equal(body, Encoding.UTF8.GetString(replayed.RequestBody.Span));
            Assert.Equal(fixture.PublicUrl.Authority, replayed.Host);
            Assert.False(evil.Poll(0, SelectMode.SelectRead), "the visitor's host received a connection");
        }
        finally
        {
            File.Delete(secretFile);
        }
    }

    [BrowserFact]
    public async Task Copy_as_curl_of_a_binary_body_sends_its_bytes_without_a_file()
    {
        var marker = $"/binary-{Guid.NewGuid():N}"[..19];
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).Concat("'$(id)`\n"u8.ToArray()).ToArray();
        var stored = fixture.Store.Add(Hostile(fixture.PublicUrl.Authority, marker, bytes, "application/octet-stream"));

        var command = await CopyAsync(fixture, marker, "Copy as curl");

        Assert.DoesNotContain("request.bin", command, StringComparison.Ordinal);
        var (exit, output) = await RunAsync("bash", "-c", command);
        Assert.True(exit == 0, $"curl failed ({exit}): {output}\n{command}");
        var replayed = await fixture.WaitForCaptureAsync(e => e.Id > stored.Id && e.Path == marker, "curl's request reaches the tunnel");
        Assert.Equal(bytes, replayed.RequestBody.ToArray());
    }

    [BrowserFact]
    public async Task Copy_as_Invoke_WebRequest_of_a_hostile_capture_targets_the_tunnel_with_the_body_inline()
    {
        var marker = $"/iwr-{Guid.NewGuid():N}"[..16];
        fixture.Store.Add(Hostile($"{fixture.PublicUrl.Authority}@127.0.0.2:9", marker, "@/etc/passwd"));
        var binaryMarker = $"/iwr-bin-{Guid.NewGuid():N}"[..20];
        fixture.Store.Add(Hostile(fixture.PublicUrl.Authority, binaryMarker, new byte[] { 0, 1, 2, 0xff }, "application/octet-stream"));

        var text = await CopyAsync(fixture, marker, "Copy as Invoke-WebRequest");
        var binary = await CopyAsync(fixture, binaryMarker, "Copy as Invoke-WebRequest");

        Assert.StartsWith($"Invoke-WebRequest -Uri '{fixture.PublicUrl.GetLeftPart(UriPartial.Authority)}{marker}'", text, StringComparison.Ordinal);
        Assert.Contains("-Body '@/etc/passwd'", text, StringComparison.Ordinal);
        Assert.DoesNotContain("-InFile", text, StringComparison.Ordinal);
        Assert.DoesNotContain("-InFile", binary, StringComparison.Ordinal);
        Assert.Contains("-Body ([Convert]::FromBase64String('AAEC/w=='))", binary, StringComparison.Ordinal);
    }

    private static CapturedExchange Hostile(string host, string target, string body) =>
        Hostile(host, target, Encoding.UTF8.GetBytes(body), "text/plain");

    private static CapturedExchange Hostile(string host, string target, byte[] body, string contentType) => new()
    {
        TunnelName = "web",
        PublicUrl = "http://" + host,
        Method = "POST",
        Target = target,
        HttpVersion = "HTTP/1.1",
        Host = host,
        Scheme = "http",
        RequestHeaders = [new("Host", host), new("Content-Type", contentType), new("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))],
        RequestBody = body,
        RequestBodySize = body.Length,
        Status = 200,
        Reason = "OK",
        ResponseHeaders = [],
        StartTime = DateTimeOffset.UtcNow,
        IsImported = true,
    };

    /// <summary>Opens the page, selects the row, presses the button and returns what it put on the clipboard.</summary>
    private static async Task<string> CopyAsync(InspectorPageFixture fixture, string rowText, string button)
    {
        var page = await fixture.OpenPageAsync();
        try
        {
            await page.EvaluateAsync("() => { window.__copied = null; navigator.clipboard.writeText = async (t) => { window.__copied = t; }; }");
            await Row(page, rowText).First.ClickAsync();
            await Expect(page.Locator("#detail h2")).ToContainTextAsync(rowText);
            await page.Locator("#detail").GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = button, Exact = true }).ClickAsync();
            await page.WaitForFunctionAsync("() => window.__copied !== null");
            return await page.EvaluateAsync<string>("() => window.__copied");
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
