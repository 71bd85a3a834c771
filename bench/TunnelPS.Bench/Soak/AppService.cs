using System.Globalization;
using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The application behind the "app" tunnels: GET /small (13 bytes), GET /download/&lt;bytes&gt;, POST /upload (any
/// framing; answers the byte count), GET /ws with Upgrade (101, then echoes raw bytes), keep-alive unless asked not to.
/// </summary>
internal sealed class AppService : LoopbackService
{
    private static readonly byte[] s_small = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!");
    private static readonly byte[] s_smallClose = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!");
    private static readonly byte[] s_switch = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    private static readonly byte[] s_notFound = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    private static readonly byte[] s_pattern = CreatePattern();

    private static byte[] CreatePattern()
    {
        var pattern = new byte[64 * 1024];
        for (var i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)('a' + (i % 26));
        }
        return pattern;
    }

    protected override async Task ServeAsync(HttpWire wire, CancellationToken token)
    {
        var stream = wire.Stream;
        while (await wire.ReadHeadAsync(token) is { } head)
        {
            var close = head.WantsClose;
            if (head.Method == "GET" && head.Target == "/small")
            {
                await stream.WriteAsync(close ? s_smallClose : s_small, token);
            }
            else if (head.Method == "GET" && head.Target.StartsWith("/download/", StringComparison.Ordinal)
                && long.TryParse(head.Target.AsSpan(10), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n{(close ? "Connection: close\r\n" : "")}\r\n")), token);
                for (long sent = 0; sent < size;)
                {
                    var n = (int)Math.Min(s_pattern.Length, size - sent);
                    await stream.WriteAsync(s_pattern.AsMemory(0, n), token);
                    sent += n;
                }
            }
            else if (head.Method == "POST" && head.Target == "/upload")
            {
                var received = await wire.SkipBodyAsync(head, isResponse: false, token);
                var body = received.ToString(CultureInfo.InvariantCulture);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{(close ? "Connection: close\r\n" : "")}\r\n{body}")), token);
            }
            else if (head.Method == "GET" && head.Target == "/ws" && head.IsUpgrade)
            {
                await stream.WriteAsync(s_switch, token);
                var buffer = new byte[16 * 1024];
                int n;
                while ((n = await wire.ReadAsync(buffer, token)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n), token);
                }
                return;
            }
            else
            {
                await wire.SkipBodyAsync(head, isResponse: false, token);
                await stream.WriteAsync(s_notFound, token);
            }
            if (close)
            {
                return;
            }
        }
    }
}
