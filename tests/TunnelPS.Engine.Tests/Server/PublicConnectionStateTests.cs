using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// What a public connection's main loop, its response pump and the deadline timer share is one state that only moves
/// forward (<see cref="PublicConnectionState"/>), not flags: these follow it through a real tunnel.
/// </summary>
public sealed class PublicConnectionStateTests
{
    [Fact]
    public async Task A_visitor_that_half_closes_after_its_request_gets_its_response_and_the_connection_ends_VisitorDone()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "half")));
        await client.StartAsync();
        var (visitor, accepted) = await LoopbackSocketPair.OpenAsync();
        using var _ = visitor;
        var connection = new PublicHttpConnection(server, new NetworkStream(accepted, ownsSocket: true), "http", new IPEndPoint(IPAddress.Loopback, 40000), server.NextConnectionId(), NullLogger.Instance);
        Assert.Equal(PublicConnectionState.Serving, connection.State);
        var run = connection.RunAsync(CancellationToken.None);

        await visitor.SendAsync(Encoding.ASCII.GetBytes("GET /half HTTP/1.1\r\nHost: half.localhost\r\n\r\n"));
        visitor.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        int n;
        while ((n = await visitor.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }
        await run.WaitAsync(TunnelHarness.Deadline);

        var response = Encoding.ASCII.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
        Assert.EndsWith("hello GET /half", response, StringComparison.Ordinal);
        Assert.Equal(PublicConnectionState.VisitorDone, connection.State);
        Assert.Null(connection.Tracker);
    }
}
