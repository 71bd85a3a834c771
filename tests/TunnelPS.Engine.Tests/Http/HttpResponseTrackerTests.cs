using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

public sealed class HttpResponseTrackerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private const string ThreeResponses =
        "HTTP/1.1 100 Continue\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n0\r\nT: 1\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" +
        "HTTP/1.1 204 No Content\r\n\r\n";

    private static HttpResponseTracker TrackerWithFourRequests()
    {
        var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("POST");
        tracker.RequestForwarded("GET");
        tracker.RequestForwarded("HEAD");
        tracker.RequestForwarded("DELETE");
        return tracker;
    }

    [Fact]
    public void FollowsPipelinedResponsesAtEverySplitPoint()
    {
        var data = B(ThreeResponses);
        for (var split = 0; split <= data.Length; split++)
        {
            using var tracker = TrackerWithFourRequests();
            tracker.Observe(data.AsSpan(0, split));
            tracker.Observe(data.AsSpan(split));
            Assert.False(tracker.Unparsed, tracker.UnparsedReason);
            Assert.Equal(0, tracker.Outstanding);
            Assert.Equal(4, tracker.ResponsesCompleted);
        }
    }

    [Fact]
    public void FollowsResponsesOneByteAtATime()
    {
        var data = B(ThreeResponses);
        using var tracker = TrackerWithFourRequests();
        var firstDone = B("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").Length;
        for (var i = 0; i < data.Length; i++)
        {
            tracker.Observe(data.AsSpan(i, 1));
            if (i == firstDone - 2)
            {
                Assert.Equal(4, tracker.Outstanding);
            }
            if (i == firstDone - 1)
            {
                Assert.Equal(3, tracker.Outstanding);
            }
        }
        Assert.False(tracker.Unparsed, tracker.UnparsedReason);
        Assert.Equal(0, tracker.Outstanding);
    }

    [Fact]
    public void InterimResponseDoesNotCompleteTheRequest()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("PUT");
        tracker.Observe(B("HTTP/1.1 100 Continue\r\n\r\n"));
        Assert.Equal(1, tracker.Outstanding);
        Assert.True(tracker.WaitIdleAsync(CancellationToken.None) is { IsCompleted: false });
        tracker.Observe(B("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(0, tracker.Outstanding);
    }

    [Fact]
    public async Task WaitIdleCompletesWhenTheLastResponseEndsOnAnotherThread()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        tracker.Observe(B("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"));
        var idle = tracker.WaitIdleAsync(CancellationToken.None).AsTask();
        Assert.False(idle.IsCompleted);
        await Task.Run(() => tracker.Observe(B("c")));
        await idle.WaitAsync(Deadline);
        Assert.Equal(0, tracker.Outstanding);
        Assert.True(tracker.WaitIdleAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task WaitIdleHonoursCancellation()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        using var cts = new CancellationTokenSource();
        var idle = tracker.WaitIdleAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => idle.WaitAsync(Deadline));
    }

    [Fact]
    public async Task SwitchingProtocolsMarksUpgradedAndIgnoresWhatFollows()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        var idle = tracker.WaitIdleAsync(CancellationToken.None).AsTask();
        tracker.Observe(B("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello garbage"));
        Assert.True(tracker.Upgraded);
        Assert.False(tracker.Unparsed);
        Assert.Equal(0, tracker.Outstanding);
        await idle.WaitAsync(Deadline);
        tracker.Observe(B("more raw bytes"));
        Assert.False(tracker.Unparsed);
    }

    [Fact]
    public void ConnectTunnelMarksUpgraded()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("CONNECT");
        tracker.Observe(B("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"));
        Assert.True(tracker.Upgraded);
    }

    [Fact]
    public async Task UnparsableResponseMarksUnparsedWithoutThrowing()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        var idle = tracker.WaitIdleAsync(CancellationToken.None).AsTask();
        tracker.Observe(B("SSH-2.0-OpenSSH_9.6\r\n"));
        Assert.True(tracker.Unparsed);
        Assert.NotNull(tracker.UnparsedReason);
        await idle.WaitAsync(Deadline);
        tracker.Observe(B("HTTP/1.1 200 OK\r\n\r\n"));
        Assert.True(tracker.Unparsed);
    }

    [Fact]
    public void BadChunkFramingAndOrphanResponsesMarkUnparsed()
    {
        using var bad = new HttpResponseTracker();
        bad.RequestForwarded("GET");
        bad.Observe(B("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
        Assert.True(bad.Unparsed);

        using var orphan = new HttpResponseTracker();
        orphan.Observe(B("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.True(orphan.Unparsed);
    }

    [Fact]
    public void OversizedResponseHeadAcrossReadsMarksUnparsed()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        tracker.Observe(B("HTTP/1.1 200 OK\r\nX-Big: "));
        var chunk = B(new string('a', 8192));
        for (var i = 0; i < 9 && !tracker.Unparsed; i++)
        {
            tracker.Observe(chunk);
        }
        Assert.True(tracker.Unparsed);
    }

    [Fact]
    public async Task BodyUntilCloseCompletesOnConnectionClosed()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        tracker.Observe(B("HTTP/1.0 200 OK\r\n\r\nstreaming..."));
        Assert.Equal(1, tracker.Outstanding);
        var idle = tracker.WaitIdleAsync(CancellationToken.None).AsTask();
        tracker.ConnectionClosed();
        await idle.WaitAsync(Deadline);
        Assert.Equal(0, tracker.Outstanding);
        Assert.True(tracker.IsClosed);
    }

    [Fact]
    public void HeadResponseWithContentLengthHasNoBody()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("HEAD");
        tracker.RequestForwarded("GET");
        tracker.Observe(B("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"));
        Assert.False(tracker.Unparsed, tracker.UnparsedReason);
        Assert.Equal(0, tracker.Outstanding);
    }
}
