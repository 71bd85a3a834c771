using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// CONNECT is refused on an http tunnel (it is a reverse proxy, not a forward proxy), and a connection upgraded to
/// another protocol (101) is idle-timed like any other, so neither can hold a connection past the idle timeout.
/// </summary>
public sealed class UpgradeAndConnectTests
{
    [Fact]
    public async Task CONNECT_on_an_http_tunnel_is_refused_with_405_and_never_reaches_the_local_service()
    {
        // A local service that answers 200 to anything, CONNECT included.
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "connect")));
        await client.StartAsync();

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("CONNECT x:443 HTTP/1.1\r\nHost: connect.localhost\r\n\r\n"));
        var answer = await ReadToEndAsync(stream);

        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("not a forward proxy", answer, StringComparison.Ordinal);
        // The connection is closed after the answer (ReadToEndAsync returned), and the local service never saw it.
        Assert.DoesNotContain(local.Heads, head => head.StartsWith("CONNECT", StringComparison.Ordinal));

        // The tunnel still serves ordinary requests.
        using var http = TunnelHarness.Visitor(keepAlive: false);
        Assert.Equal("hello GET /after", await http.GetStringAsync($"http://connect.localhost:{server.HttpPort}/after"));
    }

    [Fact]
    public async Task A_silent_upgraded_connection_is_closed_at_the_idle_timeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var idle = TimeSpan.FromSeconds(60);
        // The local service switches protocols on /ws, then says nothing more.
        await using var local = new LocalHttpService((method, target) => target == "/ws" ? (101, "") : (200, $"hello {method} {target}"));
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, PublicIdleTimeout = idle, HeartbeatTimeout = TimeSpan.FromDays(1) });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "upgraded")));
        await client.StartAsync();

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: upgraded.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
        Assert.Equal(101, (await new HttpResponseReader(stream).ReadAsync()).Status);

        // Silent both ways from here: the fake clock moves in watchdog-sized steps until the server closes the
        // connection (or the real-time deadline passes, which fails the test).
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var read = stream.ReadAsync(new byte[16], deadline.Token).AsTask();
        var advanced = TimeSpan.Zero;
        while (!read.IsCompleted && !deadline.IsCancellationRequested)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            advanced += TimeSpan.FromSeconds(5);
            await Task.WhenAny(read, Task.Delay(10));
        }
        Assert.Equal(0, await read);
        Assert.True(advanced >= idle, $"closed after {advanced.TotalSeconds} s, before the idle timeout of {idle.TotalSeconds} s");
    }

    /// <summary>Reads until the server closes the connection (within the test deadline).</summary>
    internal static async Task<string> ReadToEndAsync(Stream stream)
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer, deadline.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }
}
