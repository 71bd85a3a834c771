using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

/// <summary>The response tracker on the framing scanner: no allocation per response, the parser's rules for heads.</summary>
public sealed class HttpResponseTrackerScanTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void FollowingKeepAliveResponsesAllocatesNothingPerResponse()
    {
        var responses = B(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!" +
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
            "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
        using var tracker = new HttpResponseTracker();
        var forwarded = 0L;
        void Round()
        {
            tracker.RequestForwarded("GET");
            tracker.RequestForwarded("GET");
            tracker.RequestForwarded("GET");
            forwarded += tracker.Observe(responses);
        }
        for (var i = 0; i < 20; i++)
        {
            Round();
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Round();
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1020L * responses.Length, forwarded);
        Assert.False(tracker.Unparsed, tracker.UnparsedReason);
        Assert.Equal(3 * 1020, tracker.ResponsesCompleted);
        // The method queue may grow its array once; nothing is allocated per response.
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 3000 responses.");
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "Conflicting Content-Length values (5 and 6).")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", "Invalid Content-Length 'five'.")]
    [InlineData("HTTP/1.1 2x0 OK\r\n\r\n", "Malformed status line: the status code is not three digits.")]
    public void AnInvalidHeadIsHeldBackWithTheParsersReason(string response, string reason)
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        Assert.Equal(0, tracker.Observe(B(response)));
        Assert.True(tracker.Unparsed);
        Assert.True(tracker.UnparsedAtHead);
        Assert.Equal(reason, tracker.UnparsedReason);
    }

    [Fact]
    public void IdenticalRepeatedContentLengthsFrameTheBody()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        tracker.RequestForwarded("GET");
        var data = B("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nokHTTP/1.0 200 OK\nContent-Length: 0\n\n");
        Assert.Equal(data.Length, tracker.Observe(data));
        Assert.Equal(0, tracker.Outstanding);
        Assert.False(tracker.Unparsed, tracker.UnparsedReason);
    }

    [Fact]
    public void AHeadSplitAcrossReadsIsHeldBackUntilComplete()
    {
        using var tracker = new HttpResponseTracker();
        tracker.RequestForwarded("GET");
        var head = B("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
        Assert.Equal(0, tracker.Observe(head.AsSpan(0, 10)));
        Assert.False(tracker.InBody);
        // The head began 10 bytes before this read; all of it and the body byte may go on now.
        Assert.Equal(head.Length - 10 + 1, tracker.Observe([.. head.AsSpan(10), (byte)'a']));
        Assert.True(tracker.InBody);
        Assert.Equal(2, tracker.Observe(B("bc")));
        Assert.False(tracker.InBody);
        Assert.Equal(0, tracker.Outstanding);
    }
}
