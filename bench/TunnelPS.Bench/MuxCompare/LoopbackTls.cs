using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// TLS over loopback TCP as the engine sets it up: a self-signed certificate made in this process
/// (<see cref="CertificateStore.CreateSelfSigned"/>), TLS 1.2 or newer (<see cref="TlsDefaults"/>), the dialler pinning
/// the certificate's thumbprint, no Nagle and keep-alive on every socket (<see cref="SocketTuning"/>), and inline socket
/// completions after the handshake where the engine would use them (<see cref="InlineCompletions.IsWorthwhile"/>).
/// Under each TLS stream a <see cref="CountingStream"/> counts the socket writes and reads.
/// </summary>
internal sealed class LoopbackTls : IDisposable
{
    private readonly X509Certificate2 _certificate;
    private readonly SslServerAuthenticationOptions _serverOptions;
    private readonly string _thumbprint;

    public LoopbackTls(bool inlineCompletions)
    {
        InlineCompletions = inlineCompletions;
        _certificate = CertificateStore.CreateSelfSigned("localhost");
        _thumbprint = CertificateStore.Thumbprint(_certificate);
        _serverOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(_certificate, null),
            EnabledSslProtocols = TlsDefaults.Protocols,
            ClientCertificateRequired = false,
        };
    }

    /// <summary>Whether sockets complete their async operations inline (the engine's default on this machine when true).</summary>
    public bool InlineCompletions { get; }

    /// <summary>A listener on 127.0.0.1, a free port.</summary>
    public static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        return listener;
    }

    /// <summary>Dials <paramref name="port"/> and completes the client side of the handshake.</summary>
    public async Task<SslStream> DialAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SslStream? ssl = null;
        try
        {
            SocketTuning.Apply(socket);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            ssl = new SslStream(new CountingStream(new NetworkStream(socket, ownsSocket: true)), leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = TlsDefaults.Protocols,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && string.Equals(CertificateStore.Thumbprint(certificate), _thumbprint, StringComparison.OrdinalIgnoreCase),
            }, cancellationToken);
            AfterHandshake(socket);
            return ssl;
        }
        catch
        {
            if (ssl is not null)
            {
                await ssl.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }
            throw;
        }
    }

    /// <summary>Completes the server side of the handshake on an accepted socket.</summary>
    public async Task<SslStream> AcceptAsync(Socket socket, CancellationToken cancellationToken)
    {
        SocketTuning.Apply(socket);
        var ssl = new SslStream(new CountingStream(new NetworkStream(socket, ownsSocket: true)), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(_serverOptions, cancellationToken);
            AfterHandshake(socket);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One TLS connection between the two sides of a link: the opener is the TLS server (as the TunnelPS server is, which
    /// opens a stream per visitor), the acceptor the TLS client (as the tunnel client is, which dials the link).
    /// </summary>
    public async Task<(SslStream Opener, SslStream Acceptor)> ConnectPairAsync(CancellationToken cancellationToken)
    {
        using var listener = Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var accepting = listener.AcceptAsync(cancellationToken).AsTask();
        var dialling = DialAsync(port, cancellationToken);
        var opener = await AcceptAsync(await accepting, cancellationToken);
        return (opener, await dialling);
    }

    private void AfterHandshake(Socket socket)
    {
        if (InlineCompletions)
        {
            TunnelPS.Engine.Transport.InlineCompletions.TryEnable(socket);
        }
    }

    public void Dispose() => _certificate.Dispose();
}
