using System.Net;
using System.Net.Sockets;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>The server's side of MaxStreamsPerLink: a visitor never gets a stream on a client's full link.</summary>
public sealed class LinkStreamCapTests
{
    [Fact]
    public async Task A_visitor_that_finds_every_link_full_gets_a_504_after_the_proxy_wait_and_the_session_goes_on()
    {
        // The local service accepts and never answers: the first visitor's stream stays open and fills the link.
        using var service = new TcpListener(IPAddress.Loopback, 0);
        service.Start();
        var held = new List<Socket>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await service.AcceptSocketAsync();
                    lock (held)
                    {
                        held.Add(socket);
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        });
        await using var server = await TunnelHarness.StartServerAsync(o => o with { MaxStreamsPerLink = 1, ProxyWaitTimeout = TimeSpan.FromMilliseconds(300) });
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(((IPEndPoint)service.LocalEndpoint).Port, "full")) with { LinkCount = 1 });
        var endpoint = Assert.Single(await client.StartAsync());
        await TunnelHarness.WaitUntilAsync(() => client.LinkCount == 1, "the link is up");
        var host = new Uri(endpoint.PublicUrl).Authority;

        using var first = await RawVisitor.ConnectAsync(server.HttpPort);
        await first.SendAsync($"GET /first HTTP/1.1\r\nHost: {host}\r\n\r\n");
        await TunnelHarness.WaitUntilAsync(() => { lock (held) { return held.Count == 1; } }, "the first visitor reaches the local service");

        using var second = await RawVisitor.ConnectAsync(server.HttpPort);
        await second.SendAsync($"GET /second HTTP/1.1\r\nHost: {host}\r\n\r\n");
        var (status, _) = await second.Reader.ReadAsync();
        Assert.Equal(504, status);
        Assert.Equal(1, endpoint.OpenConnectionCount);

        // The first visitor's stream ends: the next visitor gets the link.
        lock (held)
        {
            held[0].Dispose();
        }
        await TunnelHarness.WaitUntilAsync(() => endpoint.OpenConnectionCount == 0, "the first visitor's stream ends");
        using var third = await RawVisitor.ConnectAsync(server.HttpPort);
        await third.SendAsync($"GET /third HTTP/1.1\r\nHost: {host}\r\n\r\n");
        await TunnelHarness.WaitUntilAsync(() => { lock (held) { return held.Count == 2; } }, "the third visitor reaches the local service");

        service.Stop();
        await accepting;
        lock (held)
        {
            held.ForEach(s => s.Dispose());
        }
    }
}
