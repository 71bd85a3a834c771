using TunnelPS.Engine.Client;
using TunnelPS.Engine.Display;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Display;

public sealed class StatusViewTests
{
    [Fact]
    public async Task The_screen_opens_the_alternate_buffer_draws_requests_and_restores_the_terminal_when_cancelled()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "view", "view");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var terminal = new LockedWriter();
        using var stop = new CancellationTokenSource();

        Task<StatusSnapshot> view = StatusView.RunScreenAsync(activity, new StatusScreen(), terminal, () => (80, 24), TimeProvider.System, stop.Token);
        using var http = TunnelHarness.Visitor();
        await http.GetStringAsync(endpoint.PublicUrl + "/seen-on-screen");
        await TunnelHarness.WaitUntilAsync(() => terminal.Text.Contains("/seen-on-screen", StringComparison.Ordinal), "the request is drawn");
        stop.Cancel();
        await view.WaitAsync(TunnelHarness.Deadline);

        string text = terminal.Text;
        Assert.StartsWith(StatusScreen.Enter, text, StringComparison.Ordinal);
        Assert.EndsWith(StatusScreen.Leave, text, StringComparison.Ordinal);
        Assert.Equal(TunnelStatus.Online, endpoint.Status); // the view only watched
    }

    [Fact]
    public async Task The_screen_ends_by_itself_when_the_tunnels_stop_and_restores_the_terminal()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "viewend", "viewend")));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var terminal = new LockedWriter();

        Task<StatusSnapshot> view = StatusView.RunScreenAsync(activity, new StatusScreen(), terminal, () => (80, 24), TimeProvider.System, CancellationToken.None);
        await TunnelHarness.WaitUntilAsync(() => terminal.Text.Contains("Session Status", StringComparison.Ordinal), "the first frame");
        await client.StopAsync();
        StatusSnapshot last = await view.WaitAsync(TunnelHarness.Deadline);

        Assert.True(last.HasEnded);
        Assert.EndsWith(StatusScreen.Leave, terminal.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_lines_come_one_per_request_and_per_status_change_until_the_tunnels_stop()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "lines", "lines")));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var lines = new List<string>();
        string[] Lines() { lock (lines) { return [.. lines]; } }

        Task view = StatusView.RunLinesAsync(activity, line => { lock (lines) { lines.Add(line); } return true; }, TimeProvider.System, CancellationToken.None);
        using var http = TunnelHarness.Visitor();
        await http.GetStringAsync(endpoint.PublicUrl + "/one");
        await http.GetStringAsync(endpoint.PublicUrl + "/two");
        await TunnelHarness.WaitUntilAsync(() => Lines().Count(l => l.Contains(" GET /", StringComparison.Ordinal)) == 2, "two request lines");
        await client.StopAsync();
        await view.WaitAsync(TunnelHarness.Deadline);

        string[] all = Lines();
        Assert.Equal("TunnelPS 1.0.0: session online; server localhost:1", all[0]);
        Assert.Equal($"Forwarding {endpoint.PublicUrl} -> 127.0.0.1:{local.Port}", all[1]);
        Assert.Matches(@" GET /one 200 OK \d+\.\dms$", all[2]);
        Assert.Matches(@" GET /two 200 OK \d+\.\dms$", all[3]);
        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} session stopped$", all[^1]);
        Assert.Equal(5, all.Length);
        Assert.DoesNotContain(all, l => l.Contains('\u001b', StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lines_a_writer_refuses_are_dropped_and_counted_never_waited_for()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "refused", "refused")));
        var endpoint = Assert.Single(await client.StartAsync());
        using var activity = new TunnelActivity([endpoint], "1.0.0", ["localhost:1"]);
        var lines = new List<string>();
        int calls = 0;

        // The writer refuses the two opening lines (a full pipeline queue), then takes everything.
        Task view = StatusView.RunLinesAsync(activity, line => { lock (lines) { if (++calls <= 2) { return false; } lines.Add(line); return true; } }, TimeProvider.System, CancellationToken.None);
        using var http = TunnelHarness.Visitor();
        await http.GetStringAsync(endpoint.PublicUrl + "/after");
        await TunnelHarness.WaitUntilAsync(() => { lock (lines) { return lines.Any(l => l.Contains(" GET /after ", StringComparison.Ordinal)); } }, "the request line");
        await client.StopAsync();
        await view.WaitAsync(TunnelHarness.Deadline);

        lock (lines)
        {
            Assert.Equal(1, lines.Count(l => l == "(2 line(s) dropped: the output fell behind the traffic)"));
            Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} session stopped$", lines[^1]);
        }
    }

    /// <summary>A StringWriter that the view writes from one thread while the test reads from another.</summary>
    private sealed class LockedWriter : StringWriter
    {
        private readonly object _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return ToString();
                }
            }
        }

        public override Task WriteAsync(string? value)
        {
            lock (_gate)
            {
                Write(value);
            }

            return Task.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
