using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Server;

namespace TunnelPS.Engine.Tests.Server;

public sealed class ProxyConnectionPoolTests
{
    [Fact]
    public async Task A_replacement_waits_briefly_while_others_are_idle_and_is_asked_at_once_when_the_pool_runs_dry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var asked = 0;
        using var pool = new ProxyConnectionPool(2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(20), time, () => Interlocked.Increment(ref asked));
        pool.Fill();
        Assert.Equal(2, asked);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(pool.TryRedeemTicket());
            pool.Offer(new SilentStream());
        }

        var first = await pool.TakeAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(2, asked);
        time.Advance(ProxyConnectionPool.ReplacementDelay);
        Assert.Equal(3, asked);

        var second = await pool.TakeAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(second);
        Assert.Equal(4, asked);
    }

    [Fact]
    public async Task A_connection_the_client_closed_is_never_given_to_a_visitor()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var pool = new ProxyConnectionPool(2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(20), time, () => { });
        var closed = new SilentStream();
        pool.Offer(closed);
        var live = new SilentStream();
        pool.Offer(live);
        closed.End();

        await using var taken = await pool.TakeAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(taken);
        Assert.True(closed.Disposed);
        Assert.False(live.Disposed);
    }

    [Fact]
    public void Recycling_closes_the_oldest_idle_connections_beyond_the_target_left_by_a_burst()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var pool = new ProxyConnectionPool(2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(20), time, () => { });
        var streams = Enumerable.Range(0, 5).Select(_ => new SilentStream()).ToList();
        streams.ForEach(s => pool.Offer(s));

        pool.Recycle();

        Assert.Equal(2, pool.IdleCount);
        Assert.All(streams.Take(3), s => Assert.True(s.Disposed));
        Assert.All(streams.Skip(3), s => Assert.False(s.Disposed));
    }

    [Fact]
    public void A_connection_is_admitted_only_against_a_ticket_the_pool_issued()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var asked = 0;
        using var pool = new ProxyConnectionPool(2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(20), time, () => asked++);

        Assert.False(pool.TryRedeemTicket());
        pool.Fill();
        Assert.Equal(2, asked);
        Assert.True(pool.TryRedeemTicket());
        Assert.True(pool.TryRedeemTicket());
        Assert.False(pool.TryRedeemTicket());
    }

    [Fact]
    public void A_request_the_client_never_answers_lapses_and_the_pool_asks_again()
    {
        // A failed dial, a failed handshake or a lost ReqProxy never brings its connection: once the dial timeout
        // has passed the ticket is forgotten, so the pool warms up again instead of waiting for it forever.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var asked = 0;
        using var pool = new ProxyConnectionPool(2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(20), time, () => asked++);
        pool.Fill();
        Assert.Equal(2, asked);
        Assert.Equal(2, pool.OutstandingCount);

        pool.Recycle();
        Assert.Equal(2, asked);

        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(0, pool.OutstandingCount);
        Assert.False(pool.TryRedeemTicket());
        pool.Recycle();
        Assert.Equal(4, asked);
        Assert.Equal(2, pool.OutstandingCount);
    }

    /// <summary>A stream whose reads wait until it is ended (EOF) or disposed.</summary>
    private sealed class SilentStream : Stream
    {
        private readonly TaskCompletionSource<int> _eof = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Disposed { get; private set; }

        public void End() => _eof.TrySetResult(0);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(_eof.Task.WaitAsync(cancellationToken));

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            _eof.TrySetResult(0);
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => 0;
        public override long Position { get => 0; set { } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => 0;
        public override long Seek(long offset, SeekOrigin origin) => 0;
        public override void SetLength(long value) { }
        public override void Write(byte[] buffer, int offset, int count) { }
    }
}
