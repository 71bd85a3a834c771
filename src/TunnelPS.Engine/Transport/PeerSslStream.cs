using System.Net.Security;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// The TLS stream of a connection on the tunnel port (either side): an <see cref="SslStream"/> that names the stream
/// it runs on, so a <see cref="MuxLink"/> that takes the connection over can find the socket stream underneath and
/// switch it to batching (<see cref="BatchingNetworkStream"/>).
/// </summary>
internal sealed class PeerSslStream : SslStream
{
    public PeerSslStream(Stream transport, RemoteCertificateValidationCallback? validation = null)
        : base(transport, leaveInnerStreamOpen: false, validation)
    {
        Transport = transport;
    }

    /// <summary>The stream the TLS records travel on.</summary>
    public Stream Transport { get; }
}
