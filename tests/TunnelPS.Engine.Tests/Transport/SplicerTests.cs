using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>The splice loop over real loopback sockets: its one-way relay, and an observer that fails.</summary>
public sealed class SplicerTests
{
    [Fact]
    public async Task A_relay_copies_one_way_then_ends_the_write_side_and_tells_the_observer()
    {
        var (visitorEnd, visitor) = await LoopbackSocketPair.OpenAsync();
        var (local, localEnd) = await LoopbackSocketPair.OpenAsync();
        using var _1 = visitorEnd;
        using var _2 = localEnd;
        await using var from = new NetworkStream(visitor, ownsSocket: true);
        await using var to = new NetworkStream(local, ownsSocket: true);
        var observer = new CountingObserver();

        var relay = Splicer.RelayAsync(from, to, observer, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, 7, CancellationToken.None);
        var payload = new byte[100_000];
        Random.Shared.NextBytes(payload);
        await visitorEnd.SendAsync(payload);
        visitorEnd.Shutdown(SocketShutdown.Send);

        var received = new MemoryStream();
        var buffer = new byte[8192];
        int n;
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        while ((n = await localEnd.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }
        Assert.Equal(payload.Length, await relay.WaitAsync(TunnelHarness.Deadline));
        Assert.Equal(payload, received.ToArray());
        Assert.Equal(payload.Length, observer.VisitorBytes);
    }

    [Fact]
    public async Task An_observer_that_throws_is_logged_at_debug_with_the_connection_id_and_the_bytes_go_on()
    {
        var lines = new List<(int Level, string Message)>();
        using var factory = new CallbackLoggerFactory((level, _, message, _) => { lock (lines) { lines.Add((level, message)); } });
        var (visitorEnd, visitor) = await LoopbackSocketPair.OpenAsync();
        var (local, localEnd) = await LoopbackSocketPair.OpenAsync();
        using var _1 = visitorEnd;
        using var _2 = localEnd;
        await using var visitorStream = new NetworkStream(visitor, ownsSocket: true);
        await using var localStream = new NetworkStream(local, ownsSocket: true);

        var splice = Splicer.RunAsync(visitorStream, localStream, new ThrowingObserver(), factory.CreateLogger("test"), 4242, CancellationToken.None);
        await visitorEnd.SendAsync(Encoding.ASCII.GetBytes("ping"));
        var buffer = new byte[4];
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var got = 0;
        while (got < 4)
        {
            got += await localEnd.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, deadline.Token);
        }
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer));
        visitorEnd.Shutdown(SocketShutdown.Send);
        localEnd.Shutdown(SocketShutdown.Send);
        await splice.WaitAsync(TunnelHarness.Deadline);

        lock (lines)
        {
            Assert.Contains(lines, l => l.Level == 1 && l.Message.Contains("[4242]", StringComparison.Ordinal) && l.Message.Contains("visitor data", StringComparison.Ordinal)
                && l.Message.Contains("observer broke (test)", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Level == 1 && l.Message.Contains("[4242]", StringComparison.Ordinal) && l.Message.Contains("(closed)", StringComparison.Ordinal));
        }
    }

    private sealed class CountingObserver : ISpliceObserver
    {
        public long VisitorBytes;

        public void OnVisitorData(ReadOnlySpan<byte> data) => VisitorBytes += data.Length;

        public void OnLocalData(ReadOnlySpan<byte> data) => throw new InvalidOperationException("A one-way relay has no local data.");

        public void OnClosed()
        {
        }
    }

    private sealed class ThrowingObserver : ISpliceObserver
    {
        public void OnVisitorData(ReadOnlySpan<byte> data) => throw new InvalidOperationException("observer broke (test)");

        public void OnLocalData(ReadOnlySpan<byte> data) => throw new InvalidOperationException("observer broke (test)");

        public void OnClosed() => throw new InvalidOperationException("observer broke (test)");
    }
}
