using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench;

/// <summary>A minimal keep-alive HTTP/1.1 client over one socket: sends a fixed GET, reads one fixed-size response.</summary>
internal sealed class RawHttpClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly byte[] _request;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly int _responseLength;

    public RawHttpClient(string host, int responseLength)
    {
        _request = Encoding.ASCII.GetBytes($"GET /bench HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tunnelps-bench\r\n\r\n");
        _responseLength = responseLength;
    }

    public async Task ConnectAsync(int port) => await _socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));

    /// <summary>One request and its whole response; the response length is known (headers added by a tunnel are not).</summary>
    public async Task RoundTripAsync()
    {
        await _socket.SendAsync(_request, SocketFlags.None);
        var got = 0;
        while (got < _responseLength)
        {
            var n = await _socket.ReceiveAsync(_buffer.AsMemory(got), SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("The connection closed mid-response.");
            }
            got += n;
        }
    }

    /// <summary>True when the last response was a 200 (a refusal of the same length would pass <see cref="RoundTripAsync"/>).</summary>
    public bool LastWasOk => _buffer.AsSpan().StartsWith("HTTP/1.1 200 "u8);

    public void Dispose() => _socket.Dispose();
}
