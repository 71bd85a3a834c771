using System.Text;
using TunnelPS.Engine.Inspection;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class ConnectionCaptureTests(ITestOutputHelper output)
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void ACaptureIsStoredAsMadeWhileAddStoresACopy()
    {
        var store = new CaptureStore();
        var owned = new CapturedExchange { Method = "GET", Target = "/owned" };
        Assert.Same(owned, store.AddOwned(owned));
        Assert.Equal(store.LastId, owned.Id);
        Assert.Same(owned, store.Get(owned.Id));
        Assert.Throws<InvalidOperationException>(() => store.AddOwned(owned));

        var again = store.Add(owned);
        Assert.NotSame(owned, again);
        Assert.True(again.Id > owned.Id);
        Assert.Equal("/owned", again.Target);
    }

    [Fact]
    public void ACapturedKeepAliveExchangeAllocatesItsHeadsBodyAndRecordsOnly()
    {
        var store = new CaptureStore(100);
        using var tap = ConnectionCapture.CreateTap(store, new CaptureContext { TunnelName = "t", PublicUrl = "http://t.localhost" });
        var request = B("GET /bench HTTP/1.1\r\nHost: t.localhost\r\nUser-Agent: tunnelps-bench\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n\r\n");
        var response = B("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!");
        for (var i = 0; i < 200; i++)
        {
            tap.OnVisitorData(request);
            tap.OnLocalData(response);
        }
        const int Exchanges = 2000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Exchanges; i++)
        {
            tap.OnVisitorData(request);
            tap.OnLocalData(response);
        }
        var perExchange = (GC.GetAllocatedBytesForCurrentThread() - before) / Exchanges;
        output.WriteLine($"{perExchange} B per captured exchange (request head {request.Length} B, response head {response.Length - 13} B).");
        Assert.Equal(100, store.Count);
        var last = store.Snapshot()[^1];
        Assert.Equal(("GET", "/bench", 200, "Hello, world!"), (last.Method, last.Target, last.Status, Encoding.ASCII.GetString(last.ResponseBody.Span)));
        // The request and response head bytes, the body, the tap's record and the stored exchange; no strings.
        Assert.True(perExchange < 1024, $"{perExchange} B per captured exchange.");
    }
}
