using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspector;

namespace TunnelPS.Engine.Tests.Inspector;

public sealed class InspectorConnectionTests
{
    [Fact]
    public async Task A_taken_port_moves_to_the_next_one_only_when_allowed()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var address = new InspectorAddress(IPAddress.Loopback, port);

        var ex = Assert.Throws<TunnelConfigurationException>(() => InspectorServer.Start(new InspectorOptions { Address = address }));
        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);

        await using var moved = InspectorServer.Start(new InspectorOptions { Address = address, NextFreePort = true });
        Assert.NotEqual(port, moved.EndPoint.Port);
        Assert.Equal($"http://127.0.0.1:{moved.EndPoint.Port}/", moved.Url.ToString());
    }

    [Fact]
    public async Task A_head_too_large_is_431_and_a_body_too_large_is_413()
    {
        await using var host = InspectorTestHost.Start(configure: o => o with { MaxHeadSize = 1024, MaxBodySize = 100 });
        var port = host.Server.EndPoint.Port;

        var big = await RawAsync(port, $"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: {new string('a', 2000)}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431 ", big, StringComparison.Ordinal);

        var body = await RawAsync(port, $"POST /api/requests/http HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-TunnelPS-Request: 1\r\nContent-Length: 101\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 413 ", body, StringComparison.Ordinal);

        var chunked = await RawAsync(port, $"POST /api/requests/http HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-TunnelPS-Request: 1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n{new string('a', 101)}\r\n0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 413 ", chunked, StringComparison.Ordinal);

        var garbage = await RawAsync(port, "\x01\x02 not http\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", garbage, StringComparison.Ordinal);
        Assert.DoesNotContain(" at TunnelPS", garbage, StringComparison.Ordinal);

        var absolute = await RawAsync(port, $"GET http://evil.example/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", absolute, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keep_alive_serves_several_requests_on_one_connection()
    {
        await using var host = InspectorTestHost.Start();
        var port = host.Server.EndPoint.Port;
        var request = $"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n";

        var answers = await RawAsync(port, request + request + $"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");

        Assert.Equal(3, answers.Split("HTTP/1.1 200 OK").Length - 1);
    }

    [Fact]
    public async Task Idle_and_slow_connections_are_closed_at_their_deadlines()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = InspectorTestHost.Start(configure: o => o with { TimeProvider = time, IdleTimeout = TimeSpan.FromSeconds(30), RequestTimeout = TimeSpan.FromSeconds(10) });
        var port = host.Server.EndPoint.Port;

        using var idle = await ConnectAsync(port);
        using var slow = await ConnectAsync(port);
        await slow.GetStream().WriteAsync("GET / HTTP/1.1\r\n"u8.ToArray());

        Assert.Equal(0, await ReadUntilClosedAsync(slow, time, TimeSpan.FromSeconds(2)));
        Assert.Equal(0, await ReadUntilClosedAsync(idle, time, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_closed_at_once()
    {
        await using var host = InspectorTestHost.Start(configure: o => o with { MaxConnections = 2 });
        var port = host.Server.EndPoint.Port;
        using var first = await ConnectAsync(port);
        using var second = await ConnectAsync(port);
        await TunnelPS.Engine.Tests.Support.TunnelHarness.WaitUntilAsync(() => host.Server.ConnectionCount >= 2, "two connections are held");

        using var third = await ConnectAsync(port);
        using var deadline = new CancellationTokenSource(InspectorTestHost.Deadline);
        Assert.Equal(0, await third.GetStream().ReadAsync(new byte[16], deadline.Token));
    }

    internal static async Task<TcpClient> ConnectAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port);
        return client;
    }

    /// <summary>Sends raw bytes and reads everything until the inspector closes the connection.</summary>
    internal static async Task<string> RawAsync(int port, string request)
    {
        using var client = await ConnectAsync(port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var deadline = new CancellationTokenSource(InspectorTestHost.Deadline);
        using var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, deadline.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // Reset after the answer: what was read is the answer.
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    /// <summary>Moves the fake clock in steps until the connection is closed; returns what the last read gave.</summary>
    private static async Task<int> ReadUntilClosedAsync(TcpClient client, FakeTimeProvider time, TimeSpan step)
    {
        using var deadline = new CancellationTokenSource(InspectorTestHost.Deadline);
        var read = client.GetStream().ReadAsync(new byte[16], deadline.Token).AsTask();
        while (!read.IsCompleted && !deadline.IsCancellationRequested)
        {
            time.Advance(step);
            await Task.WhenAny(read, Task.Delay(10));
        }
        try
        {
            return await read;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
