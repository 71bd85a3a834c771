using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

public sealed class CaptureEdgeCasesThroughTunnelTests
{
    [Fact]
    public async Task A_body_over_the_cap_is_truncated_in_the_capture_but_delivered_whole()
    {
        await using var local = new LocalHttpService((_, _) => (200, "got it"));
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(local.Port, "big") with { Capture = new CaptureOptions { BodyLimit = 64 * 1024 } };
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();
        var payload = new byte[3 * 1024 * 1024];
        new Random(7).NextBytes(payload);

        using var content = new ByteArrayContent(payload);
        var response = await http.PostAsync(endpoint.PublicUrl + "/upload", content);
        Assert.Equal("got it", await response.Content.ReadAsStringAsync());
        Assert.Equal("got it", await http.GetStringAsync(endpoint.PublicUrl + "/after"));

        var store = client.CaptureFor(definition)!;
        await TunnelHarness.WaitUntilAsync(() => store.Snapshot().Count == 2, "both exchanges are captured");
        var upload = store.Snapshot()[0];
        Assert.True(upload.RequestTruncated);
        Assert.Equal(payload.Length, upload.RequestBodySize);
        Assert.Equal(64 * 1024, upload.RequestBody.Length);
        Assert.True(payload.AsSpan(0, 64 * 1024).SequenceEqual(upload.RequestBody.Span));
    }

    [Fact]
    public async Task A_local_service_that_does_not_speak_http_gives_the_visitor_a_502_and_is_captured_as_unparsed()
    {
        using var garbage = new TcpListener(IPAddress.Loopback, 0);
        garbage.Start();
        var port = ((IPEndPoint)garbage.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                using var c = await garbage.AcceptTcpClientAsync();
                var s = c.GetStream();
                _ = await s.ReadAsync(new byte[4096]);
                await s.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-NotHttp\r\n\x01\x02\x03"));
                c.Client.Shutdown(SocketShutdown.Send);
            }
        });
        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "odd");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        await client.StartAsync();

        for (var i = 0; i < 2; i++)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, server.HttpPort);
            using var stream = new NetworkStream(socket);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: odd.localhost\r\n\r\n"));
            using var all = new MemoryStream();
            await stream.CopyToAsync(all).WaitAsync(TunnelHarness.Deadline);
            // What the service sent is not HTTP, so none of it reaches the visitor: the server answers 502 itself.
            var text = Encoding.ASCII.GetString(all.ToArray());
            Assert.StartsWith("HTTP/1.1 502 Bad Gateway\r\n", text, StringComparison.Ordinal);
            Assert.Contains("not HTTP", text, StringComparison.Ordinal);
            Assert.DoesNotContain("SSH-2.0", text, StringComparison.Ordinal);
        }
        await serve.WaitAsync(TunnelHarness.Deadline);

        var store = client.CaptureFor(definition)!;
        await TunnelHarness.WaitUntilAsync(() => store.Snapshot().Count >= 2, "the exchanges are recorded");
        Assert.All(store.Snapshot(), e => Assert.True(e.IsUnparsed));
    }
}
