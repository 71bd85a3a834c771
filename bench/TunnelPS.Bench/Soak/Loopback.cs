using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// Dials 127.0.0.1 only, from a chosen source address of 127/8 (Linux routes all of it to the loopback interface),
/// so the server sees many client addresses while nothing but loopback is ever targeted.
/// </summary>
internal static class Loopback
{
    // Linux: IPPROTO_IP / IP_BIND_ADDRESS_NO_PORT. The source port is then chosen at connect() for the whole 4-tuple,
    // so many connections from one source address do not exhaust its ephemeral ports.
    private const int IpProtocolIp = 0;
    private const int IpBindAddressNoPort = 24;

    /// <summary>Source addresses by purpose: 127.0.&lt;block&gt;.&lt;1..250&gt;.</summary>
    public static IPAddress Source(int block, int index) => new([127, 0, (byte)block, (byte)(1 + (index % 250))]);

    /// <summary>Connects a TCP socket to 127.0.0.1:<paramref name="port"/> from <paramref name="source"/>.</summary>
    public static async Task<Socket> ConnectAsync(IPAddress source, int port, CancellationToken token, int receiveBuffer = 0)
    {
        if (source.AddressFamily != AddressFamily.InterNetwork || source.GetAddressBytes()[0] != 127)
        {
            throw new ArgumentException("The soak only uses loopback source addresses (127/8).", nameof(source));
        }
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(IpProtocolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
            }
            if (receiveBuffer > 0)
            {
                socket.ReceiveBufferSize = receiveBuffer;
            }
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>TLS over a connected socket, SNI <paramref name="host"/>, trusting exactly the server's certificate.</summary>
    public static async Task<SslStream> TlsAsync(Socket socket, string host, string thumbprint, CancellationToken token)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && string.Equals(TunnelPS.Engine.Transport.CertificateStore.Thumbprint(certificate), thumbprint, StringComparison.OrdinalIgnoreCase),
            }, token);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    /// <summary>A visitor connection: plain to the HTTP port, or TLS to the TLS port when <paramref name="tls"/> is true.</summary>
    public static async Task<HttpWire> VisitAsync(SoakEndpoints endpoints, IPAddress source, string host, bool tls, CancellationToken token, int receiveBuffer = 0)
    {
        var socket = await ConnectAsync(source, tls ? endpoints.TlsPort : endpoints.HttpPort, token, receiveBuffer);
        if (!tls)
        {
            return new HttpWire(new NetworkStream(socket, ownsSocket: true));
        }
        return new HttpWire(await TlsAsync(socket, host, endpoints.Thumbprint, token));
    }

    /// <summary>A plain connection to one of the parent's own services (the direct path).</summary>
    public static async Task<HttpWire> DirectAsync(int port, IPAddress source, CancellationToken token) =>
        new(new NetworkStream(await ConnectAsync(source, port, token), ownsSocket: true));

    public static byte[] Get(string host, string path, bool close = false) =>
        Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tunnelps-soak\r\n{(close ? "Connection: close\r\n" : "")}\r\n");

    /// <summary>A token for an operation: cancelled by <paramref name="outer"/> or after <paramref name="timeout"/>.</summary>
    public static CancellationTokenSource Deadline(CancellationToken outer, TimeSpan timeout)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        source.CancelAfter(timeout);
        return source;
    }
}
