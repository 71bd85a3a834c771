using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class HttpExchangeTapSocketTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>A splice like the tunnel client's: visitor ⇄ local with the tap observing after each write.</summary>
    private static async Task SpliceAsync(Socket visitor, Uri local, HttpExchangeTap tap)
    {
        using var localSocket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await localSocket.ConnectAsync(IPAddress.Loopback, local.Port);
        async Task Copy(Socket from, Socket to, bool fromVisitor)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                    {
                        break;
                    }
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    if (fromVisitor)
                    {
                        tap.OnVisitorData(buffer.AsSpan(0, read));
                    }
                    else
                    {
                        tap.OnLocalData(buffer.AsSpan(0, read));
                    }
                }
                to.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }
        }
        await Task.WhenAll(Copy(visitor, localSocket, true), Copy(localSocket, visitor, false));
        tap.OnClosed();
        visitor.Dispose();
    }

    [Fact]
    public async Task CapturesKeepAliveTrafficThroughARealSplice()
    {
        await using var server = new TestHttpServer((head, body) => head.Target switch
        {
            "/chunked" => Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchunk\r\n0\r\n\r\n"),
            _ => TestHttpServer.Response(200, "OK", $"{head.Method} {head.Target} {body.Length}"),
        });
        var store = new CaptureStore();
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var proxyPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var splice = Task.Run(async () =>
        {
            var visitor = await listener.AcceptAsync();
            visitor.NoDelay = true;
            var tap = ConnectionCapture.CreateTap(store, new CaptureContext
            {
                TunnelName = "t",
                PublicUrl = "http://t.localhost",
                ClientAddress = visitor.RemoteEndPoint!.ToString()!,
                ConnectionId = 1,
            });
            await SpliceAsync(visitor, server.Uri, tap);
        });

        var third = store.WaitAsync(e => e.Target == "/chunked", CancellationToken.None);
        using (var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}/") })
        {
            Assert.Equal("GET /a 0", await client.GetStringAsync("/a").WaitAsync(Deadline));
            using var post = await client.PostAsync("/b", new ByteArrayContent(new byte[3000])).WaitAsync(Deadline);
            Assert.Equal("POST /b 3000", await post.Content.ReadAsStringAsync());
            Assert.Equal("chunk", await client.GetStringAsync("/chunked").WaitAsync(Deadline));
        }
        await third.WaitAsync(Deadline);
        await splice.WaitAsync(Deadline);

        var all = store.Snapshot();
        Assert.Equal(["/a", "/b", "/chunked"], all.Select(e => e.Target).ToArray());
        Assert.All(all, e => Assert.Equal(200, e.Status));
        Assert.Equal(3000, all[1].RequestBodySize);
        Assert.Equal("POST /b 3000", Encoding.ASCII.GetString(all[1].ResponseBody.Span));
        Assert.Equal("chunk", Encoding.ASCII.GetString(all[2].ResponseBody.Span));
        Assert.All(all, e => Assert.Contains("127.0.0.1", e.ClientAddress, StringComparison.Ordinal));
        Assert.All(all, e => Assert.True(e.Duration >= e.TimeToFirstByte));
    }
}
