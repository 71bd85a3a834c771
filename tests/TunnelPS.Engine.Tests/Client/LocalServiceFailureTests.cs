using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>
/// A local service that does not answer shows: the client's 502 is captured with the request and an Error, the URLs of
/// the tunnel become Degraded (with Error and LastError) and Online again once the service answers.
/// </summary>
public sealed class LocalServiceFailureTests
{
    [Fact]
    public async Task A_refused_request_is_captured_as_502_with_an_Error_and_the_tunnel_is_Degraded_until_the_service_answers()
    {
        var port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "flaky", "flaky", "http", "https");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoints = await client.StartAsync();
        Assert.Equal(2, endpoints.Count);
        var http = endpoints.Single(e => e.Protocol == "http");
        var store = client.CaptureFor(definition)!;
        var changes = new List<TunnelStatus>();
        http.StatusChanged += (_, _) => { lock (changes) { changes.Add(http.Status); } };
        using var visitor = TunnelHarness.Visitor();

        for (var i = 1; i <= 3; i++)
        {
            var refused = await visitor.GetAsync($"{http.PublicUrl}/orders?page={i}");
            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        }
        await TunnelHarness.WaitUntilAsync(() => store.Count == 3, "the three refused requests are captured");

        var captured = store.Snapshot();
        Assert.Equal(["/orders?page=1", "/orders?page=2", "/orders?page=3"], captured.Select(e => e.Target).ToArray());
        Assert.All(captured, e =>
        {
            Assert.Equal("GET", e.Method);
            Assert.Equal(502, e.Status);
            Assert.Equal("Bad Gateway", e.Reason);
            Assert.Equal($"The client answered 502 itself: the local service 127.0.0.1:{port} could not be reached (Connection refused).", e.Error);
            Assert.Contains($"127.0.0.1:{port}", System.Text.Encoding.UTF8.GetString(e.ResponseBody.Span), StringComparison.Ordinal);
        });
        Assert.All(endpoints, e =>
        {
            Assert.Equal(TunnelStatus.Degraded, e.Status);
            Assert.Equal("Connection refused", e.Error);
            Assert.Equal("Connection refused", e.LastError);
            Assert.NotNull(e.LastErrorTime);
        });

        await using (var local = new LocalHttpService(port: port))
        {
            var answered = await visitor.GetStringAsync(http.PublicUrl + "/orders");
            Assert.Equal("hello GET /orders", answered);
            Assert.All(endpoints, e =>
            {
                Assert.Equal(TunnelStatus.Online, e.Status);
                Assert.Null(e.Error);
                Assert.Equal("Connection refused", e.LastError);
            });
        }

        lock (changes)
        {
            // Three failed requests made one change to Degraded, and one answer one change back.
            Assert.Equal([TunnelStatus.Degraded, TunnelStatus.Online], changes);
        }
    }

    [Fact]
    public async Task A_refused_POST_is_captured_with_its_method_and_target_even_with_a_body_that_is_never_read()
    {
        var port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "postdown", "postdown");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var store = client.CaptureFor(definition)!;
        using var visitor = TunnelHarness.Visitor();
        using var body = new StringContent("{\"event\":\"push\"}", System.Text.Encoding.UTF8, "application/json");

        var refused = await visitor.PostAsync(endpoint.PublicUrl + "/webhook", body);

        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        await TunnelHarness.WaitUntilAsync(() => store.Count == 1, "the refused POST is captured");
        var exchange = Assert.Single(store.Snapshot());
        Assert.Equal("POST", exchange.Method);
        Assert.Equal("/webhook", exchange.Target);
        Assert.Equal(502, exchange.Status);
        Assert.StartsWith("The client answered 502 itself", exchange.Error, StringComparison.Ordinal);
        Assert.Equal(TunnelStatus.Degraded, endpoint.Status);
    }

    [Fact]
    public async Task A_tunnel_without_capture_still_becomes_Degraded_and_Online_again()
    {
        var port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "nocap", "nocap") with { Capture = new CaptureOptions { Enabled = false } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var visitor = TunnelHarness.Visitor();

        Assert.Equal(HttpStatusCode.BadGateway, (await visitor.GetAsync(endpoint.PublicUrl + "/")).StatusCode);
        Assert.Equal(TunnelStatus.Degraded, endpoint.Status);
        Assert.Null(client.CaptureFor(definition));

        await using var local = new LocalHttpService(port: port);
        Assert.Equal("hello GET /", await visitor.GetStringAsync(endpoint.PublicUrl + "/"));
        Assert.Equal(TunnelStatus.Online, endpoint.Status);
    }

    [Fact]
    public async Task A_local_service_that_does_not_accept_in_time_is_answered_with_504_and_captured()
    {
        // A listener that never accepts, its accept queue filled: the kernel drops further SYNs, so a dial hangs.
        using var stuck = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        stuck.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        stuck.Listen(1);
        var port = ((IPEndPoint)stuck.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                fillers.Add(filler);
                try
                {
                    filler.Connect(IPAddress.Loopback, port);
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                }
            }
            await using var server = await TunnelHarness.StartServerAsync();
            var definition = TunnelHarness.Http(port, "stuck", "stuck");
            var options = TunnelHarness.ClientOptions(server, definition) with { LocalConnectTimeout = TimeSpan.FromMilliseconds(300) };
            await using var client = new TunnelClient(options);
            var endpoint = Assert.Single(await client.StartAsync());
            var store = client.CaptureFor(definition)!;
            using var visitor = TunnelHarness.Visitor();

            var response = await visitor.GetAsync(endpoint.PublicUrl + "/slow");

            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Contains($"127.0.0.1:{port} did not accept", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            await TunnelHarness.WaitUntilAsync(() => store.Count == 1, "the timed-out request is captured");
            var exchange = Assert.Single(store.Snapshot());
            Assert.Equal((504, "/slow"), (exchange.Status, exchange.Target));
            Assert.Equal($"The client answered 504 itself: the local service 127.0.0.1:{port} did not accept the connection in time (the connection timed out).", exchange.Error);
            Assert.Equal(TunnelStatus.Degraded, endpoint.Status);
            Assert.Equal("the connection timed out", endpoint.Error);
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Theory]
    [InlineData(false)] // reads the head and closes with body bytes unread: a reset
    [InlineData(true)] // reads the whole request and closes cleanly without answering: an end of stream
    public async Task A_local_service_that_drops_the_connection_mid_request_is_named_on_the_502_and_the_capture_has_502_and_why(bool clean)
    {
        using var local = new TcpListener(IPAddress.Loopback, 0);
        local.Start();
        var port = ((IPEndPoint)local.LocalEndpoint).Port;
        var dropper = DropAfterHeadAsync(local, clean);
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "dropper", "dropper");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        var store = client.CaptureFor(definition)!;
        using var visitor = TunnelHarness.Visitor(keepAlive: false);
        using var body = new ByteArrayContent(new byte[clean ? 10 : 32 * 1024]);

        var response = await visitor.PostAsync(endpoint.PublicUrl + "/upload", body);
        await dropper.WaitAsync(TunnelHarness.Deadline);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains($"the local service at 127.0.0.1:{port} closed the connection before it answered", page, StringComparison.Ordinal);
        Assert.DoesNotContain("client closed", page, StringComparison.Ordinal);
        await TunnelHarness.WaitUntilAsync(() => store.Count == 1, "the dropped request is captured");
        var exchange = Assert.Single(store.Snapshot());
        Assert.Equal(("POST", "/upload", 502), (exchange.Method, exchange.Target, exchange.Status));
        Assert.Equal($"The client answered 502 itself: the local service 127.0.0.1:{port} closed the connection before it answered.", exchange.Error);
        Assert.Equal(TunnelStatus.Online, endpoint.Status);
    }

    [Fact]
    public async Task A_tcp_tunnel_whose_local_port_is_closed_is_logged_degraded_in_tcp_words()
    {
        var port = FreePort();
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = new TunnelDefinition { Name = "closed-tcp", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", port) };
        var warnings = new List<string>();
        var options = TunnelHarness.ClientOptions(server, definition).WithLogCallback(
            (level, _, message, _) =>
            {
                lock (warnings)
                {
                    warnings.Add(message);
                }
            },
            level => level >= 3); // Warning and above
        await using var client = new TunnelClient(options);
        var endpoint = Assert.Single(await client.StartAsync());

        using (var visitor = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await visitor.ConnectAsync(IPAddress.Loopback, new Uri(endpoint.PublicUrl).Port);
            try
            {
                // Closed by the tunnel: an end of stream (or a reset), no bytes.
                Assert.Equal(0, await visitor.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(TunnelHarness.Deadline));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
            }
        }
        await TunnelHarness.WaitUntilAsync(() => endpoint.Status == TunnelStatus.Degraded, "the tunnel is Degraded");

        string warning;
        lock (warnings)
        {
            warning = Assert.Single(warnings, w => w.Contains("is degraded", StringComparison.Ordinal));
        }
        Assert.Equal($"Tunnel closed-tcp ({endpoint.PublicUrl}) is degraded: the local service 127.0.0.1:{port} does not accept connections (Connection refused); visitors' connections are closed until it does", warning);
    }

    /// <summary>Accepts one connection, reads up to the end of the request head (or, when clean, the whole 10-byte body too), and closes it.</summary>
    private static async Task DropAfterHeadAsync(TcpListener listener, bool clean)
    {
        using var socket = await listener.AcceptSocketAsync();
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            if (read == 0)
            {
                return;
            }
            received.AddRange(buffer.AsSpan(0, read));
            var text = System.Text.Encoding.ASCII.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0 && (!clean || received.Count >= end + 4 + 10))
            {
                break;
            }
        }
        if (clean)
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        socket.Close();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
