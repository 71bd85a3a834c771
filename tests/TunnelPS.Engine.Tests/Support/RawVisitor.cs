using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>A visitor on a raw socket (from a chosen loopback source address when given), for requests HttpClient would not send.</summary>
internal sealed class RawVisitor : IDisposable
{
    private readonly Socket _socket;

    private RawVisitor(Socket socket)
    {
        _socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
        Reader = new HttpResponseReader(Stream);
    }

    public NetworkStream Stream { get; }

    public HttpResponseReader Reader { get; }

    public static async Task<RawVisitor> ConnectAsync(int port, IPAddress? source = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        await socket.ConnectAsync(IPAddress.Loopback, port, deadline.Token);
        return new RawVisitor(socket);
    }

    public ValueTask SendAsync(string text) => Stream.WriteAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Everything the server sends until it closes the connection.</summary>
    public async Task<string> ReadToEndAsync()
    {
        using var all = new MemoryStream();
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        try
        {
            await Stream.CopyToAsync(all, deadline.Token);
        }
        catch (IOException)
        {
            // A reset after the last bytes still ends the conversation.
        }
        return Encoding.Latin1.GetString(all.ToArray());
    }

    public void Dispose() => Stream.Dispose();
}
