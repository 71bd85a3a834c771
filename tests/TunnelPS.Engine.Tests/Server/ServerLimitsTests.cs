using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>Every resource a visitor or a client can take is bounded, and a limit that is hit has a clear answer.</summary>
public sealed class ServerLimitsTests
{
    [Fact]
    public void The_connection_budget_leaves_a_reserve_under_the_descriptor_limit()
    {
        Assert.Equal(336, DescriptorLimit.ConnectionBudget(400));
        Assert.Equal(136, DescriptorLimit.ConnectionBudget(400, open: 200));
        Assert.Equal(16, DescriptorLimit.ConnectionBudget(400, open: 390));
        Assert.Equal(896, DescriptorLimit.ConnectionBudget(1024));
        Assert.Equal(20_000, DescriptorLimit.ConnectionBudget(1_048_576));
        Assert.Equal(20_000, DescriptorLimit.ConnectionBudget(null));
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(DescriptorLimit.Current());
            Assert.InRange(DescriptorLimit.OpenCount() ?? 0, 3, 100_000);
        }
    }

    [Fact]
    public async Task The_server_holds_at_most_its_connection_limit_and_keeps_serving_the_connections_it_has()
    {
        // Finding 3: idle connections exhausted the descriptors and the accept loop spun until the process died.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConnections = 40, MaxConnectionsPerIP = 1000 });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "busy")));
        var endpoint = Assert.Single(await client.StartAsync());
        using var keptAlive = await RawVisitor.ConnectAsync(server.HttpPort);
        await keptAlive.SendAsync("GET /before HTTP/1.1\r\nHost: busy.localhost\r\n\r\n");
        Assert.Equal(200, (await keptAlive.Reader.ReadAsync()).Status);

        var flood = new List<RawVisitor>();
        try
        {
            // Idle visitors (each a partial head) from many addresses until the server holds all it may.
            while (server.ConnectionCount < server.MaxConnections && flood.Count < 80)
            {
                var before = server.ConnectionCount;
                var idle = await RawVisitor.ConnectAsync(server.HttpPort, IPAddress.Parse($"127.0.1.{1 + flood.Count}"));
                flood.Add(idle);
                await idle.SendAsync("GET / HTTP/1.1\r\n");
                await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount > before || server.ConnectionCount >= server.MaxConnections, "the connection is counted");
            }
            var extra = await RawVisitor.ConnectAsync(server.HttpPort, IPAddress.Parse("127.0.2.1"));
            flood.Add(extra);
            var refused = await extra.ReadToEndAsync();
            Assert.NotNull(refused);
            Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", refused, StringComparison.Ordinal);
            Assert.Contains("Too many connections", refused, StringComparison.Ordinal);
            Assert.Equal(40, server.MaxConnections);
            Assert.Equal(TunnelServerStatus.Running, server.Status);

            // The connections the server already holds are still served.
            await keptAlive.SendAsync("GET /during HTTP/1.1\r\nHost: busy.localhost\r\n\r\n");
            Assert.Equal(200, (await keptAlive.Reader.ReadAsync()).Status);
        }
        finally
        {
            flood.ForEach(v => v.Dispose());
        }

        await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount < 40, "the flood's connections are released");
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /after", await http.GetStringAsync(endpoint.PublicUrl + "/after"));
    }

    [Fact]
    public async Task One_address_may_hold_only_its_share_of_connections()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConnectionsPerIP = 5 });
        var held = new List<RawVisitor>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                held.Add(await RawVisitor.ConnectAsync(server.HttpPort, IPAddress.Parse("127.0.3.1")));
            }
            await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount == 5, "five connections are held");
            using var sixth = await RawVisitor.ConnectAsync(server.HttpPort, IPAddress.Parse("127.0.3.1"));
            Assert.StartsWith("HTTP/1.1 503 ", await sixth.ReadToEndAsync(), StringComparison.Ordinal);

            using var neighbour = await RawVisitor.ConnectAsync(server.HttpPort, IPAddress.Parse("127.0.3.2"));
            await neighbour.SendAsync("GET / HTTP/1.1\r\nHost: nothing.localhost\r\n\r\n");
            Assert.Equal(404, (await neighbour.Reader.ReadAsync()).Status);
        }
        finally
        {
            held.ForEach(v => v.Dispose());
        }
    }

    [Fact]
    public async Task A_trickled_request_head_is_cut_at_the_head_deadline()
    {
        // Finding 7: each trickled byte reset the idle timer, so slowloris connections were held past 60 s. The clock is
        // driven one second at a time and the close is seen where it happens (inside the step), so the bound is exact.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var closes = new DeadlineCloses();
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            RequestHeadTimeout = TimeSpan.FromSeconds(20),
            PublicIdleTimeout = TimeSpan.FromSeconds(60),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });
        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await visitor.SendAsync("GET / HTTP/1.1\r\n");
        // The first head is due within the head timeout of the connection's start: the clock has not moved since.
        await TunnelHarness.WaitUntilAsync(() => server.Deadlines.Count == 1, "the connection is watched");
        var read = visitor.Stream.ReadAsync(new byte[64]).AsTask();
        for (var second = 1; second < 20; second++)
        {
            await visitor.SendAsync("X");
            Assert.Empty(closes.Advance(time, TimeSpan.FromSeconds(1)));
        }
        await visitor.SendAsync("X");
        Assert.Equal(["head"], closes.Advance(time, TimeSpan.FromSeconds(1)));
        Assert.Equal(0, await ReadEndAsync(read));
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_closed_at_the_head_deadline_not_the_idle_one()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var closes = new DeadlineCloses();
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            RequestHeadTimeout = TimeSpan.FromSeconds(10),
            PublicIdleTimeout = TimeSpan.FromSeconds(300),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });
        using var visitor = await RawVisitor.ConnectAsync(server.HttpPort);
        await TunnelHarness.WaitUntilAsync(() => server.Deadlines.Count == 1, "the connection is watched");
        var read = visitor.Stream.ReadAsync(new byte[64]).AsTask();
        for (var second = 1; second < 10; second++)
        {
            Assert.Empty(closes.Advance(time, TimeSpan.FromSeconds(1)));
        }
        Assert.Equal(["head"], closes.Advance(time, TimeSpan.FromSeconds(1)));
        Assert.Equal(0, await ReadEndAsync(read));
    }

    /// <summary>The end of a connection the server closed: 0, or a reset read as 0.</summary>
    private static async Task<int> ReadEndAsync(Task<int> read)
    {
        try
        {
            return await read.WaitAsync(TunnelHarness.Deadline);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [Fact]
    public async Task A_visitor_that_never_reads_its_response_is_closed_when_writes_stop_making_progress()
    {
        // Finding 7: a visitor that never read a pending response was never closed.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var firehose = new TcpListener(IPAddress.Loopback, 0);
        firehose.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await firehose.AcceptTcpClientAsync();
            var s = c.GetStream();
            _ = await s.ReadAsync(new byte[4096]);
            var chunk = new byte[64 * 1024];
            try
            {
                await s.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n"));
                for (var i = 0; i < 16 * 1024; i++)
                {
                    await s.WriteAsync(chunk);
                }
            }
            catch (IOException)
            {
                // The tunnel closed: expected.
            }
        });
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            VisitorWriteTimeout = TimeSpan.FromSeconds(30),
            PublicIdleTimeout = TimeSpan.FromDays(1),
            HeartbeatTimeout = TimeSpan.FromDays(1),
        });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(((IPEndPoint)firehose.LocalEndpoint).Port, "firehose")));
        await client.StartAsync();

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: firehose.localhost\r\n\r\n"));
        await TunnelHarness.WaitUntilAsync(() => server.Deadlines.Count == 1, "the visitor is watched");

        // The visitor reads nothing: once the socket buffers are full the server's write waits; the fake clock then
        // runs past the write timeout and the server gives up on the visitor.
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        while (server.Deadlines.Count > 0 && !deadline.IsCancellationRequested)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(10);
        }
        Assert.Equal(0, server.Deadlines.Count);
        await serve.WaitAsync(TunnelHarness.Deadline);
    }

    [Fact]
    public async Task A_tunnel_with_its_most_open_connections_answers_503()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConnectionsPerTunnel = 2 });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "narrow")));
        await client.StartAsync();
        using var first = await RawVisitor.ConnectAsync(server.HttpPort);
        using var second = await RawVisitor.ConnectAsync(server.HttpPort);
        foreach (var visitor in new[] { first, second })
        {
            await visitor.SendAsync("GET / HTTP/1.1\r\nHost: narrow.localhost\r\n\r\n");
            Assert.Equal(200, (await visitor.Reader.ReadAsync()).Status);
        }

        using var third = await RawVisitor.ConnectAsync(server.HttpPort);
        await third.SendAsync("GET / HTTP/1.1\r\nHost: narrow.localhost\r\n\r\n");
        var (status, body) = await third.Reader.ReadAsync();
        Assert.Equal(503, status);
        Assert.Contains("Too many connections to this tunnel", body, StringComparison.Ordinal);

        first.Dispose();
        await TunnelHarness.WaitUntilAsync(() => server.Tunnels[0].OpenConnections == 1, "the first visitor's slot is freed");
        using var fourth = await RawVisitor.ConnectAsync(server.HttpPort);
        await fourth.SendAsync("GET / HTTP/1.1\r\nHost: narrow.localhost\r\n\r\n");
        Assert.Equal(200, (await fourth.Reader.ReadAsync()).Status);
    }

    [Fact]
    public async Task A_handshake_that_waits_for_its_client_holds_no_handshake_slot()
    {
        // A slot is for the server's own work: one client that sends its ClientHello and then stalls once the server
        // has answered must not hold the only slot (it used to, until the handshake deadline).
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConcurrentHandshakes = 1, HandshakeTimeout = TimeSpan.FromMinutes(5) });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "shake", "shake", "https")));
        var endpoint = Assert.Single(await client.StartAsync());

        using var stalled = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await stalled.ConnectAsync(IPAddress.Loopback, server.Port);
        await stalled.SendAsync(await RecordedClientHello.RecordAsync());
        Assert.True(await ReceiveSomeAsync(stalled) > 0, "the server answers the hello");
        await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.HandshakesInProgress == 0, "the waiting handshake gives its slot back");

        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/").WaitAsync(TunnelHarness.Deadline));
    }

    [Fact]
    public async Task Silent_connections_to_the_TLS_port_take_no_handshake_slot()
    {
        // Soak finding: silent connections held every handshake slot until their deadline, stalling all TLS for 10 s.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConcurrentHandshakes = 8 });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "calm", "calm", "https")));
        var endpoint = Assert.Single(await client.StartAsync());
        var silent = new List<Socket>();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.6.{1 + (i % 20)}"), 0));
                await socket.ConnectAsync(IPAddress.Loopback, server.Port);
                silent.Add(socket);
            }
            await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount >= 100, "the silent connections are held");
            Assert.Equal(0, server.TlsHandler.HandshakesInProgress);
            using var http = TunnelHarness.Visitor(keepAlive: false);
            Assert.Equal("hello GET /", await http.GetStringAsync(endpoint.PublicUrl + "/"));
        }
        finally
        {
            silent.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task One_address_may_hold_only_its_share_of_the_handshake_slots_and_its_others_wait_their_turn()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxConcurrentHandshakes = 32 });
        var hello = await RecordedClientHello.RecordAsync();
        var stalled = new List<Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.7.1"), 0));
                await socket.ConnectAsync(IPAddress.Loopback, server.Port);
                await socket.SendAsync(hello);
                stalled.Add(socket);
            }
            foreach (var socket in stalled)
            {
                Assert.True(await ReceiveSomeAsync(socket) > 0, "the server answers each of the four hellos");
            }

            // A fifth connection from the same address (a NAT's next user) queues behind its own address's handshakes.
            using var fifth = new Socket(SocketType.Stream, ProtocolType.Tcp);
            fifth.Bind(new IPEndPoint(IPAddress.Parse("127.0.7.1"), 0));
            await fifth.ConnectAsync(IPAddress.Loopback, server.Port);
            await fifth.SendAsync(hello);
            await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.HandshakesWaiting == 1, "the fifth waits for its address's turn");

            // Another address still gets its turn at once.
            await using (var peer = await RawPeer.DialAsync(server.Port, IPAddress.Parse("127.0.7.2")))
            {
            }

            // When one of the address's handshakes ends, the fifth takes its turn.
            stalled[0].Dispose();
            await TunnelHarness.WaitUntilAsync(() => server.TlsHandler.HandshakesWaiting == 0, "the fifth holds the freed turn");
            Assert.True(await ReceiveSomeAsync(fifth) > 0, "the server answers the fifth hello");
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Receives what the server sends next (its TLS flight), within the test deadline.</summary>
    private static async Task<int> ReceiveSomeAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        return await socket.ReceiveAsync(new byte[16 * 1024], SocketFlags.None, deadline.Token);
    }
}
