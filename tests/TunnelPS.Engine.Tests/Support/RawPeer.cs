using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// A hand-driven tunnel-protocol peer for attack and compatibility tests: a TLS connection to the server's port (from a
/// chosen loopback source address when given) that sends and reads frames as the test says.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private RawPeer(SslStream stream) => Stream = stream;

    public SslStream Stream { get; }

    public static async Task<RawPeer> DialAsync(int port, IPAddress? source = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }
        await socket.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cancellationToken);
        return new RawPeer(ssl);
    }

    public ValueTask SendAsync(Message message, CancellationToken cancellationToken = default) =>
        FrameCodec.WriteAsync(Stream, message, cancellationToken);

    public async Task<Message?> ReadAsync(CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TunnelHarness.Deadline);
        return await FrameCodec.ReadAsync(Stream, deadline.Token);
    }

    /// <summary>Reads frames until one of type <typeparamref name="T"/> arrives (ReqProxy and Pong in between are skipped).</summary>
    public async Task<T> ReadUntilAsync<T>(CancellationToken cancellationToken = default)
        where T : Message
    {
        while (true)
        {
            var message = await ReadAsync(cancellationToken) ?? throw new IOException("the server closed the connection");
            if (message is T wanted)
            {
                return wanted;
            }
        }
    }

    /// <summary>Logs in; returns the server's answer.</summary>
    public async Task<AuthResp> LoginAsync(string token = "", string clientId = "", bool tunnelPS = true)
    {
        await SendAsync(new Auth
        {
            User = token,
            ClientId = clientId,
            OS = "linux",
            Arch = "amd64",
            Capabilities = tunnelPS ? [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability] : null,
        });
        return await ReadUntilAsync<AuthResp>();
    }

    /// <summary>Asks for one tunnel; returns the server's answer.</summary>
    public async Task<NewTunnel> RequestAsync(ReqTunnel request)
    {
        await SendAsync(request);
        return await ReadUntilAsync<NewTunnel>();
    }

    /// <summary>True when the server closes the connection (a read ends) within the test deadline without sending a frame.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        try
        {
            return await ReadAsync() is null;
        }
        catch (Exception ex) when (ex is IOException or ProtocolException)
        {
            return true;
        }
    }

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}
