using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text.Json;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>
/// What a server can make the client hold: visitors served at once (each a connection to the local service), over
/// multiplexed links and pooled proxy connections alike, and proxy connections dialled for ReqProxy.
/// </summary>
public sealed class ClientStreamLimitTests
{
    private const string Url = "http://capped.example.test";

    private static TunnelClientOptions Options(int serverPort, int localPort, bool links) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = [new TunnelDefinition { Name = "capped", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", localPort), Subdomain = "capped" }],
        ReconnectMinDelay = TimeSpan.FromHours(1),
        UseMultiplexing = links,
        LinkCount = 1,
        MaxOpenStreams = 4,
        MaxProxyDials = 8,
    };

    /// <summary>A local service that accepts connections and holds them open, counting them.</summary>
    private sealed class HoldingService : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentBag<Socket> _held = [];
        private readonly Task _accepting;
        private int _accepted;

        public HoldingService()
        {
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    _held.Add(await _listener.AcceptSocketAsync());
                    Interlocked.Increment(ref _accepted);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _accepting;
            foreach (var socket in _held)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Counts a client counter's measurements made on this test's behalf (the counter is process-wide).</summary>
    private sealed class CounterWatch : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public CounterWatch(string name)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "TunnelPS" && instrument.Name == name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task A_server_that_sends_hundreds_of_ReqProxy_gets_at_most_the_cap_dialled()
    {
        using var refused = new CounterWatch("tunnelps.client.refused_proxy_requests");
        SslStream? control = null;
        await using var server = new ScriptedTunnelServer(async (ssl, request, token) =>
        {
            control = ssl;
            await ScriptedTunnelServer.AnswerAsync(ssl, request, token);
        });
        await using var local = new HoldingService();
        await using var client = new TunnelClient(Options(server.Port, local.Port, links: false));
        await client.StartAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);

        const int requests = 300;
        for (var i = 0; i < requests; i++)
        {
            await ScriptedTunnelServer.WriteAsync(control!, "ReqProxy", new { }, deadline.Token);
        }
        await TunnelHarness.WaitUntilAsync(() => refused.Total >= requests - 8 || client.ProxyDialCount > 8, "the client answers every ReqProxy");
        Assert.Equal(8, client.ProxyDialCount);
        for (var i = 0; i < 8; i++)
        {
            await server.ProxyConnections.Reader.ReadAsync(deadline.Token);
        }
        Assert.False(server.ProxyConnections.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Pooled_proxy_connections_beyond_the_open_visitor_cap_are_closed()
    {
        SslStream? control = null;
        await using var server = new ScriptedTunnelServer(async (ssl, request, token) =>
        {
            control = ssl;
            await ScriptedTunnelServer.AnswerAsync(ssl, request, token);
        });
        await using var local = new HoldingService();
        await using var client = new TunnelClient(Options(server.Port, local.Port, links: false));
        await client.StartAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);

        var proxies = new List<SslStream>();
        for (var i = 0; i < 8; i++)
        {
            await ScriptedTunnelServer.WriteAsync(control!, "ReqProxy", new { }, deadline.Token);
            proxies.Add(await server.ProxyConnections.Reader.ReadAsync(deadline.Token));
        }
        foreach (var proxy in proxies)
        {
            await ScriptedTunnelServer.WriteAsync(proxy, "StartProxy", new { Url, ClientAddr = "203.0.113.7:5555" }, deadline.Token);
        }
        // Four are served (held open by the local service); the other four are closed by the client.
        var closed = 0;
        foreach (var proxy in proxies)
        {
            var read = proxy.ReadAsync(new byte[1], deadline.Token).AsTask();
            if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMilliseconds(500), deadline.Token)) == read)
            {
                Assert.Equal(0, await ReadOrEnd(read));
                closed++;
            }
        }
        Assert.Equal(4, closed);
        await TunnelHarness.WaitUntilAsync(() => local.Accepted == 4, "four visitors reach the local service");
        Assert.Equal(4, local.Accepted);
    }

    private static async Task<int> ReadOrEnd(Task<int> read)
    {
        try
        {
            return await read;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [Fact]
    public async Task A_server_that_opens_more_streams_than_the_cap_gets_them_reset_and_the_client_holds_at_most_the_cap()
    {
        await using var server = new ScriptedTunnelServer { Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability] };
        await using var local = new HoldingService();
        await using var client = new TunnelClient(Options(server.Port, local.Port, links: true));
        await client.StartAsync();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var link = await server.Links.Reader.ReadAsync(deadline.Token);

        // Forty Opens for the tunnel's URL, then a Ping: the Pong comes after the answers to the Opens.
        using var burst = new MemoryStream();
        for (uint id = 1; id <= 40; id++)
        {
            burst.Write(OpenFrame(id));
        }
        burst.Write(Frame(MuxFrameType.Ping, 0, []));
        await link.WriteAsync(burst.ToArray(), deadline.Token);
        await link.FlushAsync(deadline.Token);

        var resets = new HashSet<uint>();
        var header = new byte[MuxFrame.HeaderLength];
        while (resets.Count < 36)
        {
            await link.ReadExactlyAsync(header, deadline.Token);
            var (type, length, id) = MuxFrame.ReadHeader(header);
            await link.ReadExactlyAsync(new byte[length], deadline.Token);
            if (type == MuxFrameType.Reset)
            {
                resets.Add(id);
            }
        }
        await TunnelHarness.WaitUntilAsync(() => local.Accepted >= 4, "four visitors reach the local service");
        Assert.Equal(36, resets.Count);
        Assert.Equal(4, local.Accepted);
    }

    private static byte[] OpenFrame(uint stream)
    {
        var url = System.Text.Encoding.UTF8.GetBytes(Url);
        var address = "203.0.113.7:5555"u8;
        var payload = new byte[4 + url.Length + address.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)url.Length);
        url.CopyTo(payload, 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(2 + url.Length), (ushort)address.Length);
        address.CopyTo(payload.AsSpan(4 + url.Length));
        return Frame(MuxFrameType.Open, stream, payload);
    }

    private static byte[] Frame(MuxFrameType type, uint stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[MuxFrame.HeaderLength + payload.Length];
        MuxFrame.WriteHeader(frame, type, payload.Length, stream);
        payload.CopyTo(frame.AsSpan(MuxFrame.HeaderLength));
        return frame;
    }
}
