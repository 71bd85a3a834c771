using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

public sealed class WebSocketThroughTunnelTests
{
    [Fact]
    public async Task A_websocket_echo_works_through_an_http_tunnel_and_its_handshake_is_captured()
    {
        var port = TunnelEndToEndTests.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://+:{port}/");
        listener.Start();
        var serverSide = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var ws = (await context.AcceptWebSocketAsync(null)).WebSocket;
            var buffer = new byte[1024];
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                await ws.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        });

        await using var server = await TunnelHarness.StartServerAsync();
        var definition = TunnelHarness.Http(port, "ws", "ws");
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, definition));
        var endpoint = Assert.Single(await client.StartAsync());

        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), token);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        });
        using var ws = new ClientWebSocket();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await ws.ConnectAsync(new Uri(endpoint.PublicUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/echo"), invoker, deadline.Token);
        foreach (var text in new[] { "one", "two", new string('x', 5000) })
        {
            await ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, deadline.Token);
            var total = 0;
            var buffer = new byte[8192];
            ValueWebSocketReceiveResult result;
            do
            {
                result = await ws.ReceiveAsync(buffer.AsMemory(total), deadline.Token);
                total += result.Count;
            }
            while (!result.EndOfMessage);
            Assert.Equal(text, Encoding.UTF8.GetString(buffer, 0, total));
        }
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", deadline.Token);
        await serverSide.WaitAsync(deadline.Token);

        var store = client.CaptureFor(definition)!;
        await TunnelHarness.WaitUntilAsync(() => store.Snapshot().Count == 1, "the handshake is captured");
        var handshake = store.Snapshot()[0];
        Assert.Equal(101, handshake.Status);
        Assert.True(handshake.IsUpgrade);
    }
}
