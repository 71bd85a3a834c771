using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

public sealed class IdleTimeoutTests
{
    [Fact]
    public async Task A_silent_keep_alive_connection_is_closed_after_the_idle_timeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, PublicIdleTimeout = TimeSpan.FromSeconds(60), HeartbeatTimeout = TimeSpan.FromDays(1) });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "idle")));
        await client.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: idle.localhost\r\n\r\n"));
        Assert.Equal(200, (await new HttpResponseReader(stream).ReadAsync()).Status);

        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var read = stream.ReadAsync(new byte[16], deadline.Token).AsTask();
        // The server finishes its bookkeeping of the response just after the visitor has it: keep the fake clock
        // moving in watchdog-sized steps until the connection is closed (or the real-time deadline passes).
        while (!read.IsCompleted && !deadline.IsCancellationRequested)
        {
            time.Advance(TimeSpan.FromSeconds(16));
            await Task.WhenAny(read, Task.Delay(10));
        }
        Assert.Equal(0, await read);
    }

    [Fact]
    public async Task A_response_slower_than_the_idle_timeout_is_not_cut()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var release = new TaskCompletionSource();
        var held = new TaskCompletionSource();
        await using var local = new LocalHttpService { BeforeRespond = () => { held.TrySetResult(); return release.Task; } };
        await using var server = await TunnelHarness.StartServerAsync(o => o with { TimeProvider = time, PublicIdleTimeout = TimeSpan.FromSeconds(60), HeartbeatTimeout = TimeSpan.FromDays(1) });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "slow")));
        await client.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /slow HTTP/1.1\r\nHost: slow.localhost\r\n\r\n"));
        await held.Task.WaitAsync(TunnelHarness.Deadline);

        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(30));
        }
        release.SetResult();

        var (status, body) = await new HttpResponseReader(stream).ReadAsync();
        Assert.Equal(200, status);
        Assert.Equal("hello GET /slow", body);
    }
}
