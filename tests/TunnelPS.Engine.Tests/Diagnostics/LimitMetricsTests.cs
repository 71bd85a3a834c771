using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Diagnostics;

/// <summary>
/// Bounds that had no counter of their own are counted when they are reached (docs/limits.md's metric column): a
/// request refused before it was forwarded, by why; and tunnelps.limits.reached, by the bound's name.
/// </summary>
[Collection(ProcessWideMeasurementCollection.Name)]
public sealed class LimitMetricsTests
{
    [Fact]
    public async Task A_request_head_too_large_and_a_host_that_is_not_valid_are_counted_as_refused_visitors_by_why()
    {
        using var refused = new MetricCollector<long>(null, "TunnelPS", "tunnelps.server.refused_visitors");
        await using var server = await TunnelHarness.StartServerAsync();

        Assert.StartsWith("HTTP/1.1 431", await SendAsync(server.HttpPort, "GET / HTTP/1.1\r\nHost: big.localhost\r\nX-Big: " + new string('a', 70 * 1024) + "\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400", await SendAsync(server.HttpPort, "GET / HTTP/1.1\r\nHost: name.localhost:80 evil\r\n\r\n"), StringComparison.Ordinal);

        Assert.Equal(1, Count(refused, "reason", "head_too_large"));
        Assert.Equal(1, Count(refused, "reason", "bad_request"));
    }

    [Fact]
    public async Task Bounds_without_a_counter_of_their_own_are_counted_by_name()
    {
        using var reached = new MetricCollector<long>(null, "TunnelPS", "tunnelps.limits.reached");

        // A body that expands past the decoder's bound.
        using (var compressed = new MemoryStream())
        {
            using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(new byte[2 * 1024 * 1024]);
            }
            Assert.Null(BodyDecoder.Decompress(compressed.ToArray(), "gzip", maxDecodedSize: 1024 * 1024));
        }

        // Ended sessions beyond what a server remembers.
        await using (var server = await TunnelHarness.StartServerAsync())
        {
            server.Sessions.RememberedLimit = 1;
            for (var i = 0; i < 2; i++)
            {
                await using var peer = await RawPeer.DialAsync(server.Port);
                await peer.LoginAsync();
                await peer.DisposeAsync();
                await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "the dropped client's session has ended");
            }
        }

        Assert.Equal(1, Count(reached, "limit", "decoded_body"));
        Assert.Equal(1, Count(reached, "limit", "remembered_sessions"));
    }

    private static long Count(MetricCollector<long> collector, string tag, string value) =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags.GetValueOrDefault(tag), value)).Sum(m => m.Value);

    private static async Task<string> SendAsync(int port, string request)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var (status, _) = await new HttpResponseReader(stream).ReadAsync();
        return $"HTTP/1.1 {status}";
    }
}
