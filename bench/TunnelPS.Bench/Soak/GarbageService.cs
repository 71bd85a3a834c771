using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// The service behind the "garbage" tunnel: answers every request with bytes that are not an HTTP response, in turn
/// binary noise, a broken status line, a head with a broken field, and a head that never ends (over 64 KiB); half of
/// the time it then closes, the other half it keeps the connection open until the peer (the tunnel) closes it.
/// </summary>
internal sealed class GarbageService : LoopbackService
{
    private static readonly byte[][] s_answers =
    [
        [0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x0d, 0x0a],
        Encoding.ASCII.GetBytes("HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"),
        Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nThis line has no colon\r\nContent-Length: 2\r\n\r\nok"),
        Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Filler: " + new string('z', 1000) + "\r\n", 70))),
    ];

    private long _served;

    protected override async Task ServeAsync(HttpWire wire, CancellationToken token)
    {
        if (await wire.ReadHeadAsync(token) is null)
        {
            return;
        }
        var turn = Interlocked.Increment(ref _served);
        await wire.Stream.WriteAsync(s_answers[turn % s_answers.Length], token);
        if (turn % 2 == 0)
        {
            using var deadline = Loopback.Deadline(token, TimeSpan.FromSeconds(60));
            await wire.SkipAsync(long.MaxValue, deadline.Token);
        }
    }
}
