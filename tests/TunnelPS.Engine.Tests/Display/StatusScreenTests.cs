using System.Text.RegularExpressions;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Display;

namespace TunnelPS.Engine.Tests.Display;

public sealed partial class StatusScreenTests
{
    [Fact]
    public void The_screen_shows_status_version_server_inspector_and_one_forwarding_line_per_url()
    {
        string[] lines = Plain(new StatusScreen().RenderLines(Snapshot(), 100, 40));

        Assert.Contains(lines, l => l.StartsWith("TunnelPS", StringComparison.Ordinal) && l.TrimEnd().EndsWith("(Ctrl+C to quit)", StringComparison.Ordinal));
        Assert.Contains("Session Status    online", lines);
        Assert.Contains("Version           9.8.7", lines);
        Assert.Contains("Server            localhost:8443", lines);
        Assert.Contains("Web Interface     http://127.0.0.1:4040", lines);
        Assert.Contains("Forwarding        http://app.localhost:8080 -> 127.0.0.1:3000", lines);
        Assert.Contains("Forwarding        https://app.localhost:8443 -> 127.0.0.1:3000", lines);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Requests\s+ttl\s+/min\s+p50\s+p90\s*$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\s+2\s+2\s+3\.0ms\s+40ms\s*$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\d\d:\d\d:\d\d\.\d{3}\s+GET\s+/orders\?page=2\s+200 OK\s+3\.0ms$"));
    }

    [Fact]
    public void Without_an_inspector_there_is_no_web_interface_line()
    {
        string[] lines = Plain(new StatusScreen().RenderLines(Snapshot() with { InspectUrl = null }, 100, 40));
        Assert.DoesNotContain(lines, l => l.StartsWith("Web Interface", StringComparison.Ordinal));
    }

    [Fact]
    public void A_degraded_session_shows_in_red_with_its_error()
    {
        StatusSnapshot snapshot = Snapshot() with { Status = "degraded", Error = "local service 127.0.0.1:3000 does not answer" };
        string[] raw = new StatusScreen().RenderLines(snapshot, 100, 40);
        Assert.Contains(Plain(raw), l => l == "Error             local service 127.0.0.1:3000 does not answer");
        Assert.Contains(raw, l => l.Contains("\u001b[91mdegraded", StringComparison.Ordinal));
    }

    [Fact]
    public void Errors_are_coloured_4xx_yellow_and_5xx_red()
    {
        string[] raw = new StatusScreen().RenderLines(Snapshot(), 100, 40);
        Assert.Contains(raw, l => l.Contains("\u001b[93m404 Not Found", StringComparison.Ordinal));
        Assert.Contains(raw, l => l.Contains("\u001b[91m500 Internal Server Error", StringComparison.Ordinal));
        Assert.Contains(raw, l => l.Contains("\u001b[32m200 OK", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(60, 12)]
    [InlineData(61, 20)]
    [InlineData(80, 24)]
    [InlineData(133, 50)]
    [InlineData(250, 15)]
    public void Every_line_fits_the_terminal_and_one_request_is_one_line(int width, int height)
    {
        var requests = Enumerable.Range(0, 60).Select(i => new StatusRequest
        {
            Time = DateTimeOffset.UnixEpoch.AddSeconds(i),
            TunnelName = "app",
            Method = i % 7 == 0 ? "PROPFIND" : "GET",
            Target = "/" + new string((char)('a' + (i % 26)), i * 7) + "?q=" + i,
            Status = i % 3 == 0 ? 503 : 200,
            Reason = i % 3 == 0 ? "Service Unavailable" : "OK",
            Duration = TimeSpan.FromMilliseconds(i * 37),
        }).Reverse().ToList();
        StatusSnapshot snapshot = Snapshot() with { Requests = requests };

        string[] lines = Plain(new StatusScreen().RenderLines(snapshot, width, height));

        Assert.True(lines.Length <= height, $"{lines.Length} lines on a screen of {height}");
        Assert.All(lines, l => Assert.True(l.Length <= width, $"'{l}' is longer than {width}"));
        string[] requestLines = lines.SkipWhile(l => l != "-------------").Skip(1).ToArray();
        if (height >= 20)
        {
            // Below that the head alone fills the screen (it is cut at the bottom, never wrapped).
            Assert.Equal(height - (lines.Length - requestLines.Length), requestLines.Length);
        }

        Assert.All(requestLines, l => Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3}\s", l));
    }

    [Fact]
    public void Control_characters_in_a_path_are_shown_as_control_pictures()
    {
        StatusSnapshot snapshot = Snapshot() with
        {
            Requests = [new StatusRequest { Time = DateTimeOffset.UnixEpoch, TunnelName = "app", Method = "GET", Target = "/a\u001b[2Jb\u0007", Status = 200, Reason = "OK" }],
        };
        string[] raw = new StatusScreen().RenderLines(snapshot, 100, 40);
        Assert.DoesNotContain(raw, l => l.Contains("\u001b[2J", StringComparison.Ordinal) || l.Contains('\u0007', StringComparison.Ordinal));
        Assert.Contains(Plain(raw), l => l.Contains("/a␛[2Jb␇", StringComparison.Ordinal));
    }

    [Fact]
    public void A_frame_redraws_from_the_top_left_and_clears_what_the_last_one_left()
    {
        string frame = new StatusScreen().RenderFrame(Snapshot(), 80, 24);
        Assert.StartsWith("\u001b[H", frame, StringComparison.Ordinal);
        Assert.EndsWith("\u001b[K\u001b[J", frame, StringComparison.Ordinal);
        Assert.DoesNotContain("\n\u001b", frame.Replace("\r\n", "|", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(59, 24)]
    [InlineData(20, 24)]
    [InlineData(80, 2)]
    public void A_window_resized_below_what_the_screen_needs_gets_short_lines_that_fit(int width, int height)
    {
        string frame = new StatusScreen().RenderFrame(Snapshot(), width, height);
        string[] lines = frame["\u001b[H".Length..].Replace("\u001b[K", string.Empty, StringComparison.Ordinal).Replace("\u001b[J", string.Empty, StringComparison.Ordinal).Split("\r\n");
        Assert.True(lines.Length <= height);
        Assert.All(lines, l => Assert.True(l.Length <= width, $"'{l}' is longer than {width}"));
        Assert.Equal(StatusScreen.Cut("TunnelPS: session online", width), lines[0]);
    }

    [Fact]
    public void A_local_failure_line_names_the_service_and_the_502()
    {
        StatusSnapshot snapshot = Snapshot() with
        {
            LocalFailures = 1,
            LastLocalFailure = new LocalFailure(DateTimeOffset.UnixEpoch, 502, "Connection refused", 1),
            Requests = [new StatusRequest { Time = DateTimeOffset.UnixEpoch, TunnelName = "app", Status = 502, Reason = "Bad Gateway", Error = "local service 127.0.0.1:3000 did not answer: Connection refused", IsLocalFailure = true }],
        };
        string[] lines = Plain(new StatusScreen().RenderLines(snapshot, 120, 40));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Local Failures\s+1 \(502 sent\), last at \d\d:\d\d:\d\d: Connection refused$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\d\d:\d\d:\d\d\.\d{3}\s+-\s+local service 127\.0\.0\.1:3000 did not answer: Connection refused\s+502 Bad Gateway\s+-$"));
    }

    internal static StatusSnapshot Snapshot() => new()
    {
        Status = "online",
        Version = "9.8.7",
        Servers = ["localhost:8443"],
        InspectUrl = "http://127.0.0.1:4040",
        Forwardings =
        [
            new StatusForwarding("http://app.localhost:8080", "127.0.0.1:3000", "online"),
            new StatusForwarding("https://app.localhost:8443", "127.0.0.1:3000", "online"),
        ],
        ConnectionsTotal = 3,
        RequestsTotal = 2,
        RequestsPerMinute = 2,
        P50 = TimeSpan.FromMilliseconds(3),
        P90 = TimeSpan.FromMilliseconds(40),
        Requests =
        [
            new StatusRequest { Time = DateTimeOffset.UnixEpoch.AddSeconds(3), TunnelName = "app", Method = "POST", Target = "/broken", Status = 500, Reason = "Internal Server Error", Duration = TimeSpan.FromMilliseconds(40) },
            new StatusRequest { Time = DateTimeOffset.UnixEpoch.AddSeconds(2), TunnelName = "app", Method = "GET", Target = "/missing", Status = 404, Reason = "Not Found", Duration = TimeSpan.FromMilliseconds(1) },
            new StatusRequest { Time = DateTimeOffset.UnixEpoch.AddSeconds(1), TunnelName = "app", Method = "GET", Target = "/orders?page=2", Status = 200, Reason = "OK", Duration = TimeSpan.FromMilliseconds(3) },
        ],
    };

    /// <summary>The lines without their colour sequences, trailing blanks trimmed.</summary>
    internal static string[] Plain(string[] lines) => lines.Select(l => Sgr().Replace(l, string.Empty).TrimEnd()).ToArray();

    [GeneratedRegex("\u001b\\[[0-9;]*m")]
    private static partial Regex Sgr();
}
