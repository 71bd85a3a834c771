using System.Text.Json;
using System.Text.RegularExpressions;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Display;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Display;

/// <summary>
/// A server that puts terminal escape sequences (set the window title, clear the screen, a fake prompt) in the public
/// URL it assigns and in the errors it sends: none of it reaches the status view, the plain lines, the endpoint or an
/// exception message as a control; it is shown as visible text.
/// </summary>
public sealed class HostileServerTextTests
{
    private const string HostileUrl = TerminalTextTests.Hostile;
    private const string ShownUrl = "http://x.example.test␛]0;pwned␇␛[2J";
    private const string HostileError = "name taken\u001b]0;pwned\u0007\u001b[2J\r\nPS C:\\> ";
    private const string ShownError = "name taken␛]0;pwned␇␛[2J␍␊PS C:\\> ";

    [Fact]
    public async Task A_public_url_with_escape_sequences_reaches_the_plain_lines_and_the_screen_only_as_visible_text()
    {
        await using var server = new ScriptedTunnelServer((control, request, token) => Answer(control, request, HostileUrl, "", token));
        await using var client = new TunnelClient(Options(server.Port));
        TunnelEndpoint endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);

        IReadOnlyList<string> lines = StatusLines.Opening(activity.Snapshot());
        string frame = new StatusScreen().RenderFrame(activity.Snapshot(), 100, 30);

        Assert.Contains($"Forwarding {ShownUrl} -> 127.0.0.1:1", lines);
        AssertNoControl(lines);
        Assert.Contains(ShownUrl, frame, StringComparison.Ordinal);
        AssertOnlyTheScreensOwnSequences(frame);
    }

    [Fact]
    public async Task A_refusal_with_escape_sequences_on_reconnect_reaches_the_endpoint_the_lines_and_the_screen_only_as_visible_text()
    {
        int answers = 0;
        await using var server = new ScriptedTunnelServer((control, request, token) =>
            Interlocked.Increment(ref answers) == 1
                ? ScriptedTunnelServer.AnswerAsync(control, request, token)
                : Answer(control, request, "", HostileError, token));
        await using var client = new TunnelClient(Options(server.Port));
        TunnelEndpoint endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);

        client.AbortControlForTest();
        await TunnelHarness.WaitUntilAsync(() => endpoint.Status == TunnelStatus.Failed, "the reopen is refused");
        StatusSnapshot snapshot = activity.Snapshot();
        string change = StatusLines.StatusChange(DateTimeOffset.UnixEpoch, snapshot.Status, snapshot.Error);
        string frame = new StatusScreen().RenderFrame(snapshot, 100, 30);

        Assert.Equal(ShownError, endpoint.Error);
        Assert.EndsWith("session failed: " + ShownError, change, StringComparison.Ordinal);
        AssertNoControl([change, .. StatusLines.Opening(snapshot)]);
        Assert.Contains("name taken␛]0;pwned␇␛[2J", frame, StringComparison.Ordinal);
        AssertOnlyTheScreensOwnSequences(frame);
    }

    [Fact]
    public async Task A_first_refusal_with_escape_sequences_is_shown_visibly_in_the_exception()
    {
        await using var server = new ScriptedTunnelServer((control, request, token) => Answer(control, request, "", HostileError, token));
        await using var client = new TunnelClient(Options(server.Port));

        var error = await Assert.ThrowsAsync<TunnelRequestException>(() => client.StartAsync());

        Assert.EndsWith(": " + ShownError, error.Message, StringComparison.Ordinal);
        AssertNoControl([error.Message]);
    }

    [Fact]
    public async Task A_login_refusal_with_escape_sequences_is_shown_visibly_in_the_exception()
    {
        await using var server = new ScriptedTunnelServer { AuthError = HostileError };
        await using var client = new TunnelClient(Options(server.Port));

        var error = await Assert.ThrowsAsync<TunnelAuthenticationException>(() => client.StartAsync());

        Assert.EndsWith(": " + ShownError, error.Message, StringComparison.Ordinal);
        AssertNoControl([error.Message]);
    }

    /// <summary>No control character at all (the plain lines are written as they are).</summary>
    internal static void AssertNoControl(IEnumerable<string> texts)
    {
        foreach (string text in texts)
        {
            Assert.False(text.Any(char.IsControl), $"a control character in: {text}");
        }
    }

    /// <summary>
    /// Only what the screen itself writes: colours (SGR), home, clear to the end of the line and of the screen, and the
    /// line breaks between its lines; no OSC, no BEL, no clear-screen with a parameter, no C1 control.
    /// </summary>
    internal static void AssertOnlyTheScreensOwnSequences(string frame)
    {
        string rest = Regex.Replace(frame, @"\u001b\[(?:[0-9;]*m|H|K|J)|\r\n", string.Empty);
        Assert.False(rest.Any(char.IsControl), $"a control character left in the frame: {Regex.Escape(rest)}");
    }

    private static Task Answer(Stream control, JsonElement request, string url, string error, CancellationToken token) =>
        ScriptedTunnelServer.WriteAsync(control, "NewTunnel", new { ReqId = request.GetProperty("ReqId").GetString(), Url = url, Protocol = "http", Error = error }, token);

    private static TunnelClientOptions Options(int serverPort) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = [new TunnelDefinition { Name = "evil", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", 1), Subdomain = "evil" }],
        ReconnectMinDelay = TimeSpan.FromMilliseconds(1),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(10),
    };
}
