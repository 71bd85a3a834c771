using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Protocol;

/// <summary>
/// The TunnelPS client against a scripted server that behaves like ngrokd 1.x: frames written as two records (length,
/// then body), no Capabilities, failed NewTunnel answers without a ReqId.
/// </summary>
public sealed class Ngrokd1xServerTests
{
    [Fact]
    public async Task The_client_matches_an_error_without_ReqId_to_its_oldest_request_and_reports_it()
    {
        await using var ngrokd = new ScriptedNgrokd(async (control, request, token) =>
            await ScriptedNgrokd.WriteAsync(control, "NewTunnel", new { ReqId = "", Url = "", Protocol = "", Error = "The tunnel http://taken.example.com is already registered." }, token));
        await using var client = new TunnelClient(Options(ngrokd.Port, 1));

        var error = await Assert.ThrowsAsync<TunnelRequestException>(() => client.StartAsync());
        Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
        Assert.False(client.ServerIsTunnelPS);
    }

    [Fact]
    public async Task The_client_opens_a_tunnel_answers_ReqProxy_and_splices_a_StartProxy_to_the_local_service()
    {
        await using var local = new LocalHttpService((_, _) => (200, "via ngrokd"));
        await using var ngrokd = new ScriptedNgrokd(async (control, request, token) =>
        {
            await ScriptedNgrokd.WriteAsync(control, "NewTunnel", new { ReqId = request.GetProperty("ReqId").GetString(), Url = "http://legacy.example.com", Protocol = "http", Error = "" }, token);
            await ScriptedNgrokd.WriteAsync(control, "ReqProxy", new { }, token);
        });
        await using var client = new TunnelClient(Options(ngrokd.Port, local.Port));
        var endpoint = Assert.Single(await client.StartAsync());
        Assert.Equal("http://legacy.example.com", endpoint.PublicUrl);

        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var proxy = await ngrokd.ProxyConnections.Reader.ReadAsync(deadline.Token);
        await ScriptedNgrokd.WriteAsync(proxy, "StartProxy", new { Url = "http://legacy.example.com", ClientAddr = "203.0.113.7:5555" }, deadline.Token);
        await proxy.WriteAsync(Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: legacy.example.com\r\n\r\n"), deadline.Token);
        var (status, body) = await new HttpResponseReader(proxy).ReadAsync();

        Assert.Equal(200, status);
        Assert.Equal("via ngrokd", body);
        Assert.Equal(1, endpoint.ConnectionCount);
    }

    private static TunnelClientOptions Options(int serverPort, int localPort) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = [new TunnelDefinition { Name = "legacy", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", localPort), Subdomain = "legacy" }],
        ReconnectMinDelay = TimeSpan.FromHours(1),
    };

    /// <summary>A TLS listener that speaks like ngrokd 1.x for one control connection and collects proxy connections.</summary>
    private sealed class ScriptedNgrokd : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Func<SslStream, JsonElement, CancellationToken, Task> _onReqTunnel;
        private readonly List<SslStream> _streams = [];

        public ScriptedNgrokd(Func<SslStream, JsonElement, CancellationToken, Task> onReqTunnel)
        {
            _onReqTunnel = onReqTunnel;
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public System.Threading.Channels.Channel<SslStream> ProxyConnections { get; } = System.Threading.Channels.Channel.CreateUnbounded<SslStream>();

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = ServeAsync(client);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            var token = _stop.Token;
            try
            {
                var ssl = new SslStream(client.GetStream());
                lock (_streams)
                {
                    _streams.Add(ssl);
                }
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TunnelHarness.Certificate }, token);
                var first = await ReadAsync(ssl, token);
                if (first.GetProperty("Type").GetString() == "RegProxy")
                {
                    await ProxyConnections.Writer.WriteAsync(ssl, token);
                    return;
                }
                await WriteAsync(ssl, "AuthResp", new { Version = "2", MmVersion = "1.7", ClientId = "0123456789abcdef0123456789abcdef", Error = "" }, token);
                while (true)
                {
                    var message = await ReadAsync(ssl, token);
                    switch (message.GetProperty("Type").GetString())
                    {
                        case "ReqTunnel":
                            await _onReqTunnel(ssl, message.GetProperty("Payload"), token);
                            break;
                        case "Ping":
                            await WriteAsync(ssl, "Pong", new { }, token);
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
            {
            }
        }

        /// <summary>Writes a frame as ngrokd 1.x does: the length and the body in two writes.</summary>
        public static async Task WriteAsync(Stream stream, string type, object payload, CancellationToken token)
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(new { Type = type, Payload = payload });
            var length = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, body.Length);
            await stream.WriteAsync(length, token);
            await stream.FlushAsync(token);
            await stream.WriteAsync(body, token);
            await stream.FlushAsync(token);
        }

        private static async Task<JsonElement> ReadAsync(Stream stream, CancellationToken token)
        {
            var length = new byte[8];
            await stream.ReadExactlyAsync(length, token);
            var body = new byte[BinaryPrimitives.ReadInt64LittleEndian(length)];
            await stream.ReadExactlyAsync(body, token);
            return JsonDocument.Parse(body).RootElement.Clone();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_streams)
            {
                _streams.ForEach(s => s.Dispose());
            }
        }
    }
}
