using TunnelPS.Engine.Display;

namespace TunnelPS.Engine.Tests.Display;

public sealed class StatusLinesTests
{
    [Fact]
    public void The_opening_names_version_status_server_inspector_and_every_url()
    {
        IReadOnlyList<string> lines = StatusLines.Opening(StatusScreenTests.Snapshot());
        Assert.Equal(
        [
            "TunnelPS 9.8.7: session online; server localhost:8443",
            "Web Interface http://127.0.0.1:4040",
            "Forwarding http://app.localhost:8080 -> 127.0.0.1:3000",
            "Forwarding https://app.localhost:8443 -> 127.0.0.1:3000",
        ], lines);
    }

    [Fact]
    public void A_request_is_one_line_with_time_method_target_status_and_duration()
    {
        var request = new StatusRequest { Time = DateTimeOffset.UnixEpoch, TunnelName = "app", Method = "GET", Target = "/a?b=1", Status = 404, Reason = "Not Found", Duration = TimeSpan.FromMilliseconds(12.34) };
        Assert.Matches(@"^\d\d:\d\d:\d\d\.000 GET /a\?b=1 404 Not Found 12\.3ms$", StatusLines.Request(request));
        Assert.Matches(@" 12\.3ms \(reset by peer\) \(replay\)$", StatusLines.Request(request with { Error = "reset\nby peer", IsReplay = true }));
    }

    [Fact]
    public void A_local_failure_line_says_what_the_visitor_got_and_why()
    {
        var failure = new StatusRequest { Time = DateTimeOffset.UnixEpoch, TunnelName = "app", Status = 502, Reason = "Bad Gateway", Error = "local service 127.0.0.1:3000 did not answer: Connection refused", IsLocalFailure = true };
        Assert.Matches(@"^\d\d:\d\d:\d\d\.000 502 Bad Gateway: local service 127\.0\.0\.1:3000 did not answer: Connection refused$", StatusLines.Request(failure));
    }

    [Fact]
    public void A_status_change_is_one_line_and_no_line_carries_a_control_character()
    {
        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} session reconnecting: server gone ␇ ␛\[31m$", StatusLines.StatusChange(DateTimeOffset.UnixEpoch, "reconnecting", "server gone \a \u001b[31m"));
        var request = new StatusRequest { Time = DateTimeOffset.UnixEpoch, TunnelName = "app", Method = "G\u001bT", Target = "/\u0000", Status = 200, Reason = "OK" };
        Assert.DoesNotContain(StatusLines.Request(request), c => char.IsControl(c));
    }
}
