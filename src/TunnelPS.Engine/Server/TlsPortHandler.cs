using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// One connection on the TLS port: its ClientHello (in full within a short deadline of its own, before it takes a
/// handshake slot), the handshake (at most a bounded number at once, within the handshake deadline), then the first
/// bytes decide what it is. A frame starts a control connection (Auth) or offers a proxy connection
/// (RegProxy); anything else is public HTTPS.
/// </summary>
internal sealed class TlsPortHandler
{
    private readonly TunnelServer _server;
    private readonly ServerCertificateSelector _certificates;
    private readonly SemaphoreSlim _handshakes;
    private readonly ILogger _logger;
    private readonly AddressTurns _perAddress;
    private int _waiting;
    private int _hellos;

    public TlsPortHandler(TunnelServer server, ServerCertificateSelector certificates, ILogger logger)
    {
        _server = server;
        _logger = logger;
        _handshakes = new SemaphoreSlim(server.Options.MaxConcurrentHandshakes, server.Options.MaxConcurrentHandshakes);
        // One address may hold only a share of the handshake slots, so that it cannot stall everyone else's.
        _perAddress = new AddressTurns(Math.Max(4, server.Options.MaxConcurrentHandshakes / 8));
        _certificates = certificates;
    }

    /// <summary>Handshakes the server is computing now (holding a slot; one that waits for its client holds none).</summary>
    public int HandshakesInProgress => _server.Options.MaxConcurrentHandshakes - _handshakes.CurrentCount;

    /// <summary>Connections waiting for their turn to handshake.</summary>
    public int HandshakesWaiting => Volatile.Read(ref _waiting) + _perAddress.Waiting;

    /// <summary>Connections whose ClientHello has begun to arrive but is not complete yet (they hold no handshake slot).</summary>
    public int ClientHellosPending => Volatile.Read(ref _hellos);

    public async Task RunAsync(Socket socket, ConnectionLimiter.ConnectionSlot slot, long connectionId, CancellationToken token)
    {
        var options = _server.Options;
        var time = options.TimeProvider;
        var accepted = time.GetTimestamp();
        EndPoint? remote;
        try
        {
            remote = socket.RemoteEndPoint;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            socket.Dispose();
            return;
        }
        var transport = new BatchingNetworkStream(socket);
        PeerSslStream? ssl = null;
        var handedOff = false;
        var readingHello = false;
        try
        {
            Message? message;
            PrefixedStream framed;
            // Every deadline of the handshake runs on the server's clock; the hello's is set while the hello arrives.
            using (var timer = new CancellationTokenSource(options.HandshakeTimeout, time))
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(token, timer.Token))
            {
                // A silent connection waits here (within the handshake deadline) without holding anything but its socket.
                await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, deadline.Token).ConfigureAwait(false);

                // The ClientHello must arrive in full within its own short deadline of its first byte; until it has, the
                // connection takes no handshake slot, so stalled hellos cannot hold up anyone else's handshake.
                var left = options.HandshakeTimeout - time.GetElapsedTime(accepted);
                if (options.ClientHelloTimeout < left)
                {
                    timer.CancelAfter(options.ClientHelloTimeout);
                }
                byte[] hello;
                readingHello = true;
                Interlocked.Increment(ref _hellos);
                try
                {
                    hello = await ClientHelloReader.ReadAsync(socket, deadline.Token).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _hellos);
                }
                readingHello = false;
                timer.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (options.HandshakeTimeout - time.GetElapsedTime(accepted)).Ticks)));
                // The handshake holds a slot only while the server computes: it gives it back while it waits for
                // the client (see HandshakeTransport), so a client that stalls mid-handshake holds none either.
                var turn = new HandshakeSlot(this);
                var handshakeTransport = new HandshakeTransport(transport, hello, turn);
                ssl = new PeerSslStream(handshakeTransport);

                // One address holds at most its share of the handshakes in progress; its other connections queue
                // behind its own (a NAT's users share one address), so it can never stall everyone else's.
                var address = (remote as IPEndPoint)?.Address;
                if (address is not null)
                {
                    await _perAddress.EnterAsync(address, deadline.Token).ConfigureAwait(false);
                }
                try
                {
                    await turn.ResumeAsync(deadline.Token).ConfigureAwait(false);
                    try
                    {
                        // The certificate is chosen by the name the client asks for (SNI): see ServerCertificateSelector.
                        await ssl.AuthenticateAsServerAsync(SelectOptions, _certificates, deadline.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        handshakeTransport.EndHandshake();
                        turn.Pause();
                    }
                }
                finally
                {
                    if (address is not null)
                    {
                        _perAddress.Leave(address);
                    }
                }
                if (options.InlineSocketCompletions)
                {
                    // After the handshake: its CPU stays off the thread that serves every socket's events.
                    InlineCompletions.TryEnable(socket);
                }
                var first = new byte[FrameCodec.HeaderLength];
                var got = 0;
                while (got < first.Length)
                {
                    var n = await ssl.ReadAsync(first.AsMemory(got), deadline.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }
                    got += n;
                }
                if (!LooksLikeFrame(first))
                {
                    handedOff = true;
                    await new PublicHttpConnection(_server, new PrefixedStream(ssl, first), "https", remote, connectionId, _logger, accepted)
                        .RunAsync(token).ConfigureAwait(false);
                    return;
                }
                framed = new PrefixedStream(ssl, first);
                message = await FrameCodec.ReadAsync(framed, deadline.Token).ConfigureAwait(false);
            }
            switch (message)
            {
                case Auth auth:
                    handedOff = true;
                    await _server.Sessions.LoginAsync(framed, auth, remote, connectionId, slot).ConfigureAwait(false);
                    return;
                case RegProxy reg:
                    handedOff = _server.Sessions.AdmitProxy(framed, reg, remote, connectionId, slot);
                    return;
                case RegLink link:
                    handedOff = true;
                    await _server.Sessions.RunLinkAsync(framed, link, remote, connectionId, slot).ConfigureAwait(false);
                    return;
                case NodeAuth node when _server.Cluster is { } cluster:
                    handedOff = true;
                    await cluster.Links.AcceptAsync(framed, node, remote, connectionId, slot.Authenticated).ConfigureAwait(false);
                    return;
                default:
                    ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote),
                        $"first frame was {message?.Type ?? "nothing"}, expected Auth, RegProxy, RegLink or (on a cluster node) NodeAuth");
                    return;
            }
        }
        catch (OperationCanceledException) when (readingHello && !token.IsCancellationRequested)
        {
            TunnelMetrics.DeadlineCloses.Add(1, new KeyValuePair<string, object?>("deadline", "client_hello"));
            ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote), string.Create(CultureInfo.InvariantCulture,
                $"its TLS ClientHello did not arrive in full within {options.ClientHelloTimeout.TotalSeconds:0.#} s of its first byte (ClientHelloTimeout)"));
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ProtocolException or SocketException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote), ex.Message);
        }
        finally
        {
            if (!handedOff)
            {
                await (ssl ?? (Stream)transport).DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>One handshake's claim on a slot of the pool: taken while the server computes, given back while it waits.</summary>
    private sealed class HandshakeSlot(TlsPortHandler owner) : IHandshakeTurn
    {
        private int _held;

        public void Pause()
        {
            if (Interlocked.Exchange(ref _held, 0) == 1)
            {
                owner._handshakes.Release();
            }
        }

        public async ValueTask ResumeAsync(CancellationToken token)
        {
            Interlocked.Increment(ref owner._waiting);
            try
            {
                await owner._handshakes.WaitAsync(token).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref owner._waiting);
            }
            Volatile.Write(ref _held, 1);
        }
    }

    private static ValueTask<SslServerAuthenticationOptions> SelectOptions(SslStream stream, SslClientHelloInfo hello, object? state, CancellationToken cancellationToken) =>
        ValueTask.FromResult(((ServerCertificateSelector)state!).OptionsFor(hello.ServerName));

    /// <summary>A first 8 bytes that read as a small little-endian length (high bytes zero) is a frame; anything else is HTTP.</summary>
    internal static bool LooksLikeFrame(ReadOnlySpan<byte> first8)
    {
        var length = BinaryPrimitives.ReadInt64LittleEndian(first8);
        return length is > 0 and <= FrameCodec.MaxFrameLength;
    }
}
