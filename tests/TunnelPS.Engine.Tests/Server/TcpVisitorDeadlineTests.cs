using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// A tcp tunnel's visitor is held to the same write-progress deadline as an HTTP visitor (docs/limits.md): one that
/// reads nothing while the local service keeps sending is closed, and its connection slot comes back.
/// </summary>
public sealed class TcpVisitorDeadlineTests
{
    [Fact]
    public async Task A_tcp_visitor_that_reads_nothing_is_closed_at_the_write_deadline()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // A local service that sends without end to whoever connects.
        using var talker = new TcpListener(IPAddress.Loopback, 0);
        talker.Start();
        using var stop = new CancellationTokenSource();
        var talking = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var socket = await talker.AcceptSocketAsync(stop.Token);
                    _ = Task.Run(async () =>
                    {
                        using (socket)
                        {
                            try
                            {
                                while (true)
                                {
                                    await socket.SendAsync(chunk, SocketFlags.None, stop.Token);
                                }
                            }
                            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                            {
                                // The tunnel closed the connection, or the test ended.
                            }
                        }
                    });
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The test ended.
            }
        });
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            TimeProvider = time,
            VisitorWriteTimeout = TimeSpan.FromSeconds(30),
            HeartbeatTimeout = TimeSpan.FromDays(1),
            PublicIdleTimeout = TimeSpan.FromDays(1),
        });
        var definition = new TunnelDefinition { Name = "talk", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", ((IPEndPoint)talker.LocalEndpoint).Port) };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition) with { LinkCount = 1 });
        var endpoint = Assert.Single(await client.StartAsync());
        var held = server.ConnectionCount;

        using var visitor = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await visitor.ConnectAsync(IPAddress.Loopback, new Uri(endpoint.PublicUrl).Port);
        await TunnelHarness.WaitUntilAsync(() => server.ConnectionCount == held + 1, "the visitor is connected");

        // The server's writes to the visitor stall once its buffers are full; the deadline then runs on the fake clock.
        await TunnelHarness.WaitUntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(5));
            return server.ConnectionCount == held;
        }, "the server closes the visitor that reads nothing");
        await stop.CancelAsync();
        talker.Stop();
        await talking.WaitAsync(TunnelHarness.Deadline);
    }
}
