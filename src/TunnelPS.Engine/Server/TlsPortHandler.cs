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
        if (!TryGetRemote(socket, connectionId, out var remote))
        {
            return;
        }
        var transport = new BatchingNetworkStream(socket);
        var start = new ConnectionStart();
        var handedOff = false;
        try
        {
            Message? message;
            PrefixedStream framed;
            // Every deadline of the handshake runs on the server's clock; the hello's is set while the hello arrives.
            using (var timer = new CancellationTokenSource(options.HandshakeTimeout, time))
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(token, timer.Token))
            {
                var ssl = await HandshakeAsync(socket, transport, remote, accepted, timer, start, deadline.Token).ConfigureAwait(false);
                // RFC 8737 3: an ACME TLS-ALPN-01 validation is the handshake itself; nothing more is served on it.
                if (start.AcmeValidation || await ReadFirstBytesAsync(ssl, deadline.Token).ConfigureAwait(false) is not { } first)
                {
                    return;
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
            if (HandOff(message, framed, remote, connectionId, slot) is { } run)
            {
                handedOff = true;
                await run.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (start.ReadingHello && !token.IsCancellationRequested)
        {
            VisitorDeadline.ClientHello.CountClose();
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
                await (start.Ssl ?? (Stream)transport).DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The peer's address; false (the socket closed) when the connection is gone already.</summary>
    private bool TryGetRemote(Socket socket, long connectionId, out EndPoint? remote)
    {
        try
        {
            remote = socket.RemoteEndPoint;
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            ServerLog.ConnectionClosed(_logger, connectionId, "an unknown address", ex.Message);
            socket.Dispose();
            remote = null;
            return false;
        }
    }

    /// <summary>What the catch and finally of one connection's start need to know: how far it got.</summary>
    private sealed class ConnectionStart
    {
        /// <summary>The TLS stream once it exists (it owns the transport then).</summary>
        public PeerSslStream? Ssl;

        /// <summary>True while the ClientHello arrives (a cancellation then is the hello's deadline).</summary>
        public bool ReadingHello;

        /// <summary>True for an ACME TLS-ALPN-01 validation (ALPN acme-tls/1): it got the challenge certificate.</summary>
        public bool AcmeValidation;
    }

    /// <summary>
    /// The ClientHello (in full within its own short deadline of its first byte, holding no handshake slot), then the
    /// handshake (holding a slot only while the server computes, and at most its address's share of them).
    /// </summary>
    private async Task<PeerSslStream> HandshakeAsync(Socket socket, BatchingNetworkStream transport, EndPoint? remote, long accepted, CancellationTokenSource timer, ConnectionStart start, CancellationToken deadline)
    {
        var options = _server.Options;
        var time = options.TimeProvider;
        var hello = await ReadHelloAsync(socket, accepted, timer, start, deadline).ConfigureAwait(false);
        timer.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (options.HandshakeTimeout - time.GetElapsedTime(accepted)).Ticks)));
        // The handshake holds a slot only while the server computes: it gives it back while it waits for the client
        // (see HandshakeTransport), so a client that stalls mid-handshake holds none either.
        var turn = new HandshakeSlot(this);
        var handshakeTransport = new HandshakeTransport(transport, hello, turn);
        var ssl = start.Ssl = new PeerSslStream(handshakeTransport);
        // One address holds at most its share of the handshakes in progress; its other connections queue behind its own
        // (a NAT's users share one address), so it can never stall everyone else's.
        var address = (remote as IPEndPoint)?.Address;
        if (address is not null)
        {
            await _perAddress.EnterAsync(address, deadline).ConfigureAwait(false);
        }
        try
        {
            await turn.ResumeAsync(deadline).ConfigureAwait(false);
            try
            {
                // The certificate is chosen by the name the client asks for (SNI): see ServerCertificateSelector.
                // An ACME TLS-ALPN-01 validation (ALPN acme-tls/1) gets its challenge certificate instead.
                start.AcmeValidation = _server.Acme is not null && Acme.ClientHelloAlpn.OffersAcmeTls(hello);
                await (start.AcmeValidation
                    ? ssl.AuthenticateAsServerAsync(SelectAcmeOptions, _server.Acme, deadline)
                    : ssl.AuthenticateAsServerAsync(SelectOptions, _certificates, deadline)).ConfigureAwait(false);
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
        return ssl;
    }

    /// <summary>
    /// Waits for the first byte without holding anything but the socket (within the handshake deadline); from it, the
    /// ClientHello must arrive in full within its own short deadline, and until it has the connection takes no handshake
    /// slot, so stalled hellos cannot hold up anyone else's handshake.
    /// </summary>
    private async Task<byte[]> ReadHelloAsync(Socket socket, long accepted, CancellationTokenSource timer, ConnectionStart start, CancellationToken deadline)
    {
        var options = _server.Options;
        await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, deadline).ConfigureAwait(false);
        if (options.ClientHelloTimeout < options.HandshakeTimeout - options.TimeProvider.GetElapsedTime(accepted))
        {
            timer.CancelAfter(options.ClientHelloTimeout);
        }
        start.ReadingHello = true;
        Interlocked.Increment(ref _hellos);
        try
        {
            var hello = await ClientHelloReader.ReadAsync(socket, deadline).ConfigureAwait(false);
            start.ReadingHello = false;
            return hello;
        }
        finally
        {
            Interlocked.Decrement(ref _hellos);
        }
    }

    /// <summary>The first 8 bytes after the handshake, which tell a frame from HTTP; null when the peer closed first.</summary>
    private static async Task<byte[]?> ReadFirstBytesAsync(PeerSslStream ssl, CancellationToken deadline)
    {
        var first = new byte[FrameCodec.HeaderLength];
        var got = 0;
        while (got < first.Length)
        {
            var n = await ssl.ReadAsync(first.AsMemory(got), deadline).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            got += n;
        }
        return first;
    }

    /// <summary>
    /// Hands a connection whose first frame is <paramref name="message"/> to its owner: the run to await, or null when
    /// nobody took it (it is closed here).
    /// </summary>
    private Task? HandOff(Message? message, PrefixedStream framed, EndPoint? remote, long connectionId, ConnectionLimiter.ConnectionSlot slot)
    {
        switch (message)
        {
            case Auth auth:
                return _server.Sessions.LoginAsync(framed, auth, remote, connectionId, slot);
            case RegProxy reg:
                return _server.Sessions.AdmitProxy(framed, reg, remote, connectionId, slot) ? Task.CompletedTask : null;
            case RegLink link:
                return _server.Sessions.RunLinkAsync(framed, link, remote, connectionId, slot);
            case NodeAuth node when _server.Cluster is { } cluster:
                return cluster.Links.AcceptAsync(framed, node, remote, connectionId, slot.Authenticated);
            default:
                ServerLog.ConnectionClosed(_logger, connectionId, ListenerSocket.Describe(remote),
                    $"first frame was {message?.Type ?? "nothing"}, expected Auth, RegProxy, RegLink or (on a cluster node) NodeAuth");
                return null;
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

    /// <summary>A TLS-ALPN-01 handshake: the challenge certificate of the name, or (no challenge in flight for it) a refusal.</summary>
    private static ValueTask<SslServerAuthenticationOptions> SelectAcmeOptions(SslStream stream, SslClientHelloInfo hello, object? state, CancellationToken cancellationToken) =>
        ((Acme.AcmeCertificates)state!).Responder.TlsAlpnOptions(hello.ServerName) is { } options
            ? ValueTask.FromResult(options)
            : ValueTask.FromException<SslServerAuthenticationOptions>(new System.Security.Authentication.AuthenticationException(
                $"an acme-tls/1 handshake for '{hello.ServerName}', which has no ACME challenge in flight"));

    /// <summary>A first 8 bytes that read as a small little-endian length (high bytes zero) is a frame; anything else is HTTP.</summary>
    internal static bool LooksLikeFrame(ReadOnlySpan<byte> first8)
    {
        var length = BinaryPrimitives.ReadInt64LittleEndian(first8);
        return length is > 0 and <= FrameCodec.MaxFrameLength;
    }
}
