using System.Globalization;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>Reads Content-Length framed HTTP/1.1 responses from a raw stream (for tests that control the connection).</summary>
internal sealed class HttpResponseReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[256 * 1024];
    private int _filled;

    public async Task<(int Status, string Body)> ReadAsync()
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = await stream.ReadAsync(_buffer.AsMemory(_filled), deadline.Token);
            if (n == 0)
            {
                throw new EndOfStreamException("The connection closed before a response head.");
            }
            _filled += n;
        }
        var head = Encoding.ASCII.GetString(_buffer, 0, headEnd);
        var status = int.Parse(head.Split(' ')[1], CultureInfo.InvariantCulture);
        var length = 0;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line[15..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        var total = headEnd + 4 + length;
        while (_filled < total)
        {
            var n = await stream.ReadAsync(_buffer.AsMemory(_filled), deadline.Token);
            if (n == 0)
            {
                throw new EndOfStreamException("The connection closed inside a response body.");
            }
            _filled += n;
        }
        var body = Encoding.UTF8.GetString(_buffer, headEnd + 4, length);
        Buffer.BlockCopy(_buffer, total, _buffer, 0, _filled - total);
        _filled -= total;
        return (status, body);
    }
}
