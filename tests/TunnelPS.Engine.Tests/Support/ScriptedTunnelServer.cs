using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A TLS listener that speaks the server side of the tunnel protocol from a script: it answers every login, hands
/// each ReqTunnel to the test (and records it in <see cref="Requests"/>), and collects proxy connections. Frames are
/// written as ngrokd 1.x writes them (length, then body). It accepts any number of control connections, so a test
/// can watch a client reconnect.
/// </summary>
internal sealed class ScriptedTunnelServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<SslStream, JsonElement, CancellationToken, Task> _onReqTunnel;
    private readonly List<SslStream> _streams = [];
    private readonly Task _accept;

    /// <param name="onReqTunnel">Answers one ReqTunnel payload on the control stream; <see cref="AnswerAsync"/> by default.</param>
    public ScriptedTunnelServer(Func<SslStream, JsonElement, CancellationToken, Task>? onReqTunnel = null)
    {
        _onReqTunnel = onReqTunnel ?? AnswerAsync;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>
    /// The Capabilities of the next AuthResp: null answers like ngrokd 1.x (no field). Read at every login, so a test
    /// can change it before the client reconnects.
    /// </summary>
    public IReadOnlyList<string>? Capabilities { get; set; }

    /// <summary>The Error of the next AuthResp (empty: the login succeeds).</summary>
    public string AuthError { get; set; } = "";

    /// <summary>Every ReqTunnel payload received, in order, over every control connection.</summary>
    public Channel<JsonElement> Requests { get; } = Channel.CreateUnbounded<JsonElement>();

    public Channel<SslStream> ProxyConnections { get; } = Channel.CreateUnbounded<SslStream>();

    /// <summary>Multiplexed links the client opened (RegLink), after their first frame: raw mux frames follow.</summary>
    public Channel<SslStream> Links { get; } = Channel.CreateUnbounded<SslStream>();

    /// <summary>Answers a ReqTunnel with one successful NewTunnel per protocol, on example.test.</summary>
    public static async Task AnswerAsync(SslStream control, JsonElement request, CancellationToken token)
    {
        var reqId = request.GetProperty("ReqId").GetString();
        var hostname = request.GetProperty("Hostname").GetString();
        var subdomain = request.GetProperty("Subdomain").GetString();
        var host = !string.IsNullOrEmpty(hostname) ? hostname : (string.IsNullOrEmpty(subdomain) ? "random" : subdomain) + ".example.test";
        foreach (var protocol in request.GetProperty("Protocol").GetString()!.Split('+'))
        {
            var remotePort = request.GetProperty("RemotePort").GetInt32();
            var url = protocol == "tcp" ? $"tcp://example.test:{(remotePort == 0 ? 40000 : remotePort)}" : $"{protocol}://{host}";
            await WriteAsync(control, "NewTunnel", new { ReqId = reqId, Url = url, Protocol = protocol, Error = "" }, token);
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

    /// <summary>The next ReqTunnel payload, within the test deadline.</summary>
    public async Task<JsonElement> NextRequestAsync()
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        return await Requests.Reader.ReadAsync(deadline.Token);
    }

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
            if (first.GetProperty("Type").GetString() == "RegLink")
            {
                await Links.Writer.WriteAsync(ssl, token);
                return;
            }
            var clientId = "0123456789abcdef0123456789abcdef";
            object authResp = Capabilities is { } capabilities
                ? new { Version = "2", MmVersion = "1.7", ClientId = clientId, Error = AuthError, Capabilities = capabilities, ProxyKey = "scripted-proxy-key" }
                : new { Version = "2", MmVersion = "1.7", ClientId = clientId, Error = AuthError };
            await WriteAsync(ssl, "AuthResp", authResp, token);
            while (true)
            {
                var message = await ReadAsync(ssl, token);
                switch (message.GetProperty("Type").GetString())
                {
                    case "ReqTunnel":
                        var payload = message.GetProperty("Payload");
                        await Requests.Writer.WriteAsync(payload, token);
                        await _onReqTunnel(ssl, payload, token);
                        break;
                    case "Ping":
                        await WriteAsync(ssl, "Pong", new { }, token);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or EndOfStreamException or System.Security.Authentication.AuthenticationException)
        {
        }
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
        await _accept;
        lock (_streams)
        {
            _streams.ForEach(s => s.Dispose());
        }
        _stop.Dispose();
    }
}
