using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Protocol;

/// <summary>
/// The server against a peer that behaves like the ngrok 1.x client: no Capabilities, no extension fields, and frame
/// bodies read with a single Read call after the 8-byte length (so a body split across TLS records would break it).
/// </summary>
public sealed class Ngrok1xPeerTests
{
    [Fact]
    public async Task An_ngrok_1x_style_client_logs_in_opens_http_and_tcp_tunnels_and_serves_a_visitor()
    {
        await using var local = new LocalHttpService((_, _) => (200, "served to an ngrok 1.x peer"));
        await using var server = await TunnelHarness.StartServerAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var token = deadline.Token;

        await using var control = await DialAsync(server.Port, token);
        await WriteRawAsync(control, """{"Type":"Auth","Payload":{"Version":"2","MmVersion":"1.7","User":"","Password":"","OS":"linux","Arch":"amd64","ClientId":""}}""", token);
        var authResp = await ReadSingleReadFrameAsync(control, token);
        Assert.Equal("AuthResp", authResp.GetProperty("Type").GetString());
        Assert.Equal("", authResp.GetProperty("Payload").GetProperty("Error").GetString());
        var clientId = authResp.GetProperty("Payload").GetProperty("ClientId").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", clientId);

        await WriteRawAsync(control, """{"Type":"ReqTunnel","Payload":{"ReqId":"aa11","Protocol":"http","Hostname":"","Subdomain":"legacy","HttpAuth":"","RemotePort":0}}""", token);
        await WriteRawAsync(control, """{"Type":"ReqTunnel","Payload":{"ReqId":"bb22","Protocol":"tcp","Hostname":"","Subdomain":"","HttpAuth":"","RemotePort":0}}""", token);
        var answers = new List<JsonElement>();
        var reqProxies = 0;
        while (answers.Count < 2)
        {
            var frame = await ReadSingleReadFrameAsync(control, token);
            switch (frame.GetProperty("Type").GetString())
            {
                case "NewTunnel":
                    answers.Add(frame.GetProperty("Payload"));
                    break;
                case "ReqProxy":
                    reqProxies++;
                    break;
                default:
                    Assert.Fail("unexpected frame " + frame);
                    break;
            }
        }
        Assert.Equal("aa11", answers[0].GetProperty("ReqId").GetString());
        Assert.Equal($"http://legacy.localhost:{server.HttpPort}", answers[0].GetProperty("Url").GetString());
        Assert.Equal("", answers[0].GetProperty("Error").GetString());
        Assert.StartsWith("tcp://localhost:", answers[1].GetProperty("Url").GetString(), StringComparison.Ordinal);
        Assert.True(reqProxies >= 1, "the server asks for a proxy connection right after login");

        // Answer one ReqProxy as ngrok 1.x does: a new TLS connection, RegProxy, then wait for StartProxy.
        await using var proxy = await DialAsync(server.Port, token);
        await WriteRawAsync(proxy, "{\"Type\":\"RegProxy\",\"Payload\":{\"ClientId\":\"" + clientId + "\"}}", token);
        using var visitor = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await visitor.ConnectAsync(IPAddress.Loopback, server.HttpPort, token);
        using var visitorStream = new NetworkStream(visitor);
        await visitorStream.WriteAsync(Encoding.ASCII.GetBytes("GET /old HTTP/1.1\r\nHost: legacy.localhost\r\n\r\n"), token);

        var start = await ReadSingleReadFrameAsync(proxy, token);
        Assert.Equal("StartProxy", start.GetProperty("Type").GetString());
        Assert.Equal($"http://legacy.localhost:{server.HttpPort}", start.GetProperty("Payload").GetProperty("Url").GetString());
        Assert.StartsWith("127.0.0.1:", start.GetProperty("Payload").GetProperty("ClientAddr").GetString(), StringComparison.Ordinal);

        // Splice the proxy connection to the local service by hand, as the ngrok client would.
        using var localSocket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await localSocket.ConnectAsync(IPAddress.Loopback, local.Port, token);
        using var localStream = new NetworkStream(localSocket);
        var up = proxy.CopyToAsync(localStream, token);
        var down = localStream.CopyToAsync(proxy, token);
        var (status, body) = await new HttpResponseReader(visitorStream).ReadAsync();
        Assert.Equal(200, status);
        Assert.Equal("served to an ngrok 1.x peer", body);
        Assert.Contains(local.Heads, h => h.StartsWith("GET /old HTTP/1.1", StringComparison.Ordinal));

        // Heartbeat: Ping is answered with Pong.
        await WriteRawAsync(control, """{"Type":"Ping","Payload":{}}""", token);
        JsonElement pong;
        do
        {
            pong = await ReadSingleReadFrameAsync(control, token);
        }
        while (pong.GetProperty("Type").GetString() == "ReqProxy");
        Assert.Equal("Pong", pong.GetProperty("Type").GetString());
    }

    private static async Task<SslStream> DialAsync(int port, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port, token);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, token);
        return ssl;
    }

    /// <summary>Writes the length and the body in two writes, as ngrok 1.x does (two TLS records).</summary>
    private static async Task WriteRawAsync(Stream stream, string json, CancellationToken token)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var length = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, body.Length);
        await stream.WriteAsync(length, token);
        await stream.WriteAsync(body, token);
    }

    /// <summary>Reads a frame as ngrok 1.x does: the length in full, then the body with ONE read, which must return it all.</summary>
    private static async Task<JsonElement> ReadSingleReadFrameAsync(Stream stream, CancellationToken token)
    {
        var length = new byte[8];
        await stream.ReadExactlyAsync(length, token);
        var size = BinaryPrimitives.ReadInt64LittleEndian(length);
        Assert.InRange(size, 1, 16 * 1024);
        var body = new byte[size];
        var read = await stream.ReadAsync(body, token);
        Assert.True(read == size, $"a single read returned {read} of {size} body bytes: the frame was split across TLS records");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
