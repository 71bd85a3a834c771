using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

public sealed class LocalDialerTests
{
    [Fact]
    public async Task Localhost_is_resolved_once_and_the_address_that_answered_is_kept()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var dialer = new LocalDialer(new LocalTarget("localhost", port), TimeSpan.FromSeconds(10));

        await using (await dialer.DialAsync(CancellationToken.None))
        {
        }
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), dialer.KnownEndPoint);
        await using (await dialer.DialAsync(CancellationToken.None))
        {
        }
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), dialer.KnownEndPoint);
    }

    [Fact]
    public async Task When_the_kept_address_stops_answering_the_name_is_resolved_again()
    {
        Assert.True(Socket.OSSupportsIPv6, "this test needs IPv6 loopback");
        // The service first listens on 127.0.0.1, then moves to ::1 on the same port; the name resolves to both, ::1
        // first (as "localhost" does on most systems), whatever this machine's hosts file says.
        using var v4 = new TcpListener(IPAddress.Loopback, 0);
        v4.Start();
        var port = ((IPEndPoint)v4.LocalEndpoint).Port;
        var lookups = 0;
        var dialer = new LocalDialer(new LocalTarget("localhost", port), TimeSpan.FromSeconds(10), (_, _) =>
        {
            lookups++;
            return Task.FromResult(new[] { IPAddress.IPv6Loopback, IPAddress.Loopback });
        });
        await using (await dialer.DialAsync(CancellationToken.None))
        {
        }
        Assert.Equal(IPAddress.Loopback, dialer.KnownEndPoint!.Address);
        await using (await dialer.DialAsync(CancellationToken.None))
        {
        }
        Assert.Equal(1, lookups);
        v4.Stop();

        using var v6 = new TcpListener(IPAddress.IPv6Loopback, port);
        try
        {
            v6.Start();
        }
        catch (SocketException ex)
        {
            Assert.Fail($"::1 port {port} could not be taken for the test: {ex.Message}");
        }
        await using (await dialer.DialAsync(CancellationToken.None))
        {
        }
        Assert.Equal(IPAddress.IPv6Loopback, dialer.KnownEndPoint!.Address);
        Assert.Equal(2, lookups);
    }

    [Fact]
    public async Task A_service_that_is_down_is_a_socket_error()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var dialer = new LocalDialer(new LocalTarget("127.0.0.1", port), TimeSpan.FromSeconds(10));
        var error = await Assert.ThrowsAsync<SocketException>(() => dialer.DialAsync(CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Null(dialer.KnownEndPoint);
    }

    [Fact]
    public async Task The_dial_deadline_runs_on_the_clients_clock()
    {
        // A lookup that never answers: only the deadline ends the dial, and it moves with the fake clock alone.
        var time = new FakeTimeProvider();
        var lookup = new TaskCompletionSource();
        var dialer = new LocalDialer(new LocalTarget("service.invalid", 80), TimeSpan.FromSeconds(10), async (_, token) =>
        {
            lookup.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return [];
        }, time: time);
        var dial = dialer.DialAsync(CancellationToken.None);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await lookup.Task.WaitAsync(deadline.Token);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(dial.IsCompleted, "the dial ended before its 10 s deadline");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Same(dial, await Task.WhenAny(dial, Task.Delay(TunnelHarness.Deadline)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dial);
    }
}
