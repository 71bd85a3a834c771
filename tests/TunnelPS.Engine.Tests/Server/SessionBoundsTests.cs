using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// The per-session and per-server bounds a logged-in client could otherwise grow (docs/limits.md, "Clients"): tunnels
/// per session, sessions in total, links per session, and the control messages queued to a client that never reads.
/// </summary>
public sealed class SessionBoundsTests
{
    [Fact]
    public async Task A_client_may_open_only_its_most_tunnels_and_is_told_why()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxTunnelsPerSession = 2 });
        await using var peer = await RawPeer.DialAsync(server.Port);
        Assert.Equal("", (await peer.LoginAsync()).Error);

        for (var i = 1; i <= 2; i++)
        {
            var granted = await peer.RequestAsync(new ReqTunnel { ReqId = $"r{i}", Protocol = "http", Subdomain = $"bound{i}" });
            Assert.Equal("", granted.Error);
        }
        var refused = await peer.RequestAsync(new ReqTunnel { ReqId = "r3", Protocol = "http", Subdomain = "bound3" });
        Assert.Contains("already holds 2 tunnels", refused.Error, StringComparison.Ordinal);
        Assert.Equal(2, server.Tunnels.Count);
    }

    [Fact]
    public async Task The_server_serves_only_its_most_sessions_and_a_login_beyond_is_told_why()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxSessions = 2, AuthTokens = ["token-one", "token-two", "token-three"] });
        await using var first = await RawPeer.DialAsync(server.Port);
        await using var second = await RawPeer.DialAsync(server.Port);
        await using var third = await RawPeer.DialAsync(server.Port);
        Assert.Equal("", (await first.LoginAsync("token-one")).Error);
        Assert.Equal("", (await second.LoginAsync("token-two")).Error);

        // A third tenant, whose own share is far from used: the server's total is what refuses it.
        var refused = await third.LoginAsync("token-three");
        Assert.Contains("already serves 2 clients", refused.Error, StringComparison.Ordinal);
        Assert.Equal(2, server.SessionCount);
    }

    [Fact]
    public async Task A_session_may_hold_only_its_most_links_and_a_link_beyond_is_closed()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        await using var control = await RawPeer.DialAsync(server.Port);
        await control.SendAsync(new Auth
        {
            OS = "linux",
            Arch = "amd64",
            Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability],
        });
        var login = await control.ReadUntilAsync<AuthResp>();
        Assert.Contains(ProtocolVersion.MuxCapability, login.Capabilities!);
        var session = Assert.Single(server.Sessions.All);

        var links = new List<RawPeer>();
        try
        {
            for (var i = 0; i < ControlSession.MaxLinks; i++)
            {
                var link = await RawPeer.DialAsync(server.Port);
                links.Add(link);
                await link.SendAsync(new RegLink { ClientId = login.ClientId, ProxyKey = login.ProxyKey! });
            }
            await TunnelHarness.WaitUntilAsync(() => session.LinkCount == ControlSession.MaxLinks, "every link within the limit is taken");

            await using var extra = await RawPeer.DialAsync(server.Port);
            await extra.SendAsync(new RegLink { ClientId = login.ClientId, ProxyKey = login.ProxyKey! });
            Assert.True(await ReadsToEndAsync(extra), "the link beyond the limit is closed by the server");
            Assert.Equal(ControlSession.MaxLinks, session.LinkCount);
        }
        finally
        {
            foreach (var link in links)
            {
                await link.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_client_that_sends_pings_and_never_reads_is_held_to_the_outbox_and_ended_at_its_heartbeat()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, HeartbeatTimeout = TimeSpan.FromSeconds(30) });
        await using var peer = await RawPeer.DialAsync(server.Port);
        Assert.Equal("", (await peer.LoginAsync()).Error);
        var session = Assert.Single(server.Sessions.All);

        // Ping without ever reading: every Ping queues a Pong. Once the socket buffers are full the server stops taking
        // Pings (its outbox is bounded and waits), so this writer stalls instead of the server's memory growing.
        using var flooding = new CancellationTokenSource(TunnelHarness.Deadline);
        var flood = Task.Run(async () =>
        {
            var ping = FrameBytes(new Ping());
            var batch = new byte[ping.Length * 256];
            for (var i = 0; i < 256; i++)
            {
                ping.CopyTo(batch, i * ping.Length);
            }
            try
            {
                while (true)
                {
                    await peer.Stream.WriteAsync(batch, flooding.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
                return ex;
            }
        });

        // The server's reads stop at the bounded outbox, so no Ping reaches it any more: its heartbeat then runs out.
        await TunnelHarness.WaitUntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(16));
            return session.Stopping.IsCancellationRequested || flood.IsCompleted;
        }, "the flooding session is ended by its heartbeat once the server stops reading its Pings");
        var ended = await flood.WaitAsync(TunnelHarness.Deadline);
        Assert.IsNotType<OperationCanceledException>(ended);
        await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the ended session leaves the server's table");
    }

    private static byte[] FrameBytes(Message message)
    {
        using var buffer = new MemoryStream();
        FrameCodec.WriteAsync(buffer, message, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    /// <summary>True when the server ends the connection within the test deadline (whatever it sent before).</summary>
    private static async Task<bool> ReadsToEndAsync(RawPeer peer)
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var buffer = new byte[4096];
        try
        {
            while (await peer.Stream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
