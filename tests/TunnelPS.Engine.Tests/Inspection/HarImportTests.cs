using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>
/// A HAR far larger than the capture budget is imported as a stream: the store keeps the newest entries within the
/// budget live traffic uses, one entry is held at a time besides, and the result says what was dropped.
/// </summary>
public sealed class HarImportTests
{
    private const long Budget = 256 * 1024;

    [Fact]
    public void A_HAR_a_hundred_times_the_budget_keeps_the_newest_entries_within_it_and_says_what_was_dropped()
    {
        const int Entries = 12_000;
        var store = new CaptureStore { MaxBytes = Budget };
        using var har = new GeneratedHar(Entries, bodyBytes: 2048);

        var result = HarImporter.Import(har, store);

        Assert.True(har.Produced > 100 * Budget, $"the HAR was {har.Produced} bytes");
        Assert.Equal(Entries, result.Read);
        Assert.InRange(store.HeldBytes, 1, Budget);
        Assert.Equal(store.Count, result.Kept.Count);
        Assert.InRange(result.Kept.Count, 2, Entries / 10);
        Assert.Equal($"/e/{Entries - 1}", result.Kept[^1].Target);
        Assert.Equal($"/e/{Entries - result.Kept.Count}", result.Kept[0].Target);
        Assert.Equal(Entries - result.Kept.Count, result.Dropped);
        Assert.Equal(0, result.TooLarge);
        var warning = result.Describe("big.har");
        Assert.NotNull(warning);
        Assert.Contains(FormattableString.Invariant($"kept the newest {result.Kept.Count:N0} of the {Entries:N0} requests of 'big.har'"), warning, StringComparison.Ordinal);
        Assert.Contains(FormattableString.Invariant($"{result.Dropped:N0} older ones were dropped"), warning, StringComparison.Ordinal);
    }

    [Fact]
    public void The_count_bound_holds_too()
    {
        var store = new CaptureStore(capacity: 50);
        using var har = new GeneratedHar(500, bodyBytes: 16);

        var result = HarImporter.Import(har, store);

        Assert.Equal(50, store.Count);
        Assert.Equal(50, result.Kept.Count);
        Assert.Equal(450, result.Dropped);
        Assert.Contains("(50 requests, 64 MiB,", result.Describe("x.har"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_import_shares_the_tunnels_budget_without_widening_it()
    {
        var budget = new CaptureBudget();
        var tunnel = new CaptureStore { MaxBytes = Budget, Budget = budget };
        tunnel.Add(new CapturedExchange { Method = "GET", Target = "/live", RequestBody = new byte[100 * 1024] });
        var imported = new CaptureStore { WidensBudget = false, Budget = budget };
        using var har = new GeneratedHar(2_000, bodyBytes: 2048);

        var result = HarImporter.Import(har, imported);

        Assert.Equal(Budget, budget.Limit);
        Assert.InRange(budget.HeldBytes, 1, Budget);
        Assert.Equal(1, result.OthersDropped);   // the live capture was the oldest
        Assert.Contains("dropped 1 older request(s) captured by tunnels", result.Describe("x.har"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_entry_larger_than_the_budget_is_passed_over_unread_and_counted()
    {
        var store = new CaptureStore { MaxBytes = Budget };
        using var har = new GeneratedHar(5, bodyBytes: 64, hugeEntry: 2, hugeBytes: 3 * 1024 * 1024, prelude: "\"pages\":[{\"id\":\"p\",\"title\":\"]}\\\"{\"}],\"creator\":{\"name\":\"t\"},");

        var result = HarImporter.Import(har, store);

        Assert.Equal(4, result.Read);
        Assert.Equal(1, result.TooLarge);
        Assert.Equal(["/e/0", "/e/1", "/e/3", "/e/4"], store.Snapshot().Select(e => e.Target));
        Assert.Contains("skipped 1 entry of 'x.har' larger than the whole capture budget (0.25 MiB)", result.Describe("x.har"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_entry_stops_the_import_after_the_entries_before_it()
    {
        var store = new CaptureStore();
        var json = """{"log":{"entries":[{"request":{"method":"GET","url":"http://a/1"}},{"request":{"method":"GET"}}]}}""";
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));

        var error = Assert.Throws<TunnelException>(() => HarImporter.Import(stream, store));

        Assert.Contains("HAR entry 1 is malformed", error.Message, StringComparison.Ordinal);
        Assert.Equal("/1", Assert.Single(store.Snapshot()).Target);
    }

    [Theory]
    [InlineData("[]", "not a JSON object")]
    [InlineData("""{"log":{"pages":[]}}""", "log.entries is missing")]
    [InlineData("""{"log":{"entries":{}}}""", "log.entries is not an array")]
    [InlineData("""{"log":{"entries":[{"request":""", "not valid JSON")]
    [InlineData("""{"log":{"entries":[""", "ends inside log.entries")]
    [InlineData("""{"log":{"entries":[1]}}""", "is not a JSON object")]
    [InlineData("""{"log" "entries"}""", "not valid JSON")]
    public void A_file_that_is_not_a_HAR_is_refused_with_the_reason(string json, string reason)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));

        var error = Assert.Throws<TunnelException>(() => HarImporter.Import(stream, new CaptureStore()));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_member_name_that_is_not_UTF_8_is_passed_over_and_the_entries_read()
    {
        // Found by the har fuzz target: the reader decoded every member's name, and invalid UTF-8 escaped as
        // InvalidOperationException.
        byte[] json = [.. "{\""u8, 0x86, .. "\":1,\"log\":{\""u8, 0xC3, 0x28, .. "\":[],\"entries\":[{\"request\":{\"method\":\"GET\",\"url\":\"http://a/1\"}}]}}"u8];
        using var stream = new MemoryStream(json);

        var result = HarImporter.Import(stream, new CaptureStore());

        Assert.Equal("/1", Assert.Single(result.Kept).Target);
    }

    /// <summary>A HAR produced as it is read: {"log":{…,"entries":[…]}} with numbered entries, never held whole.</summary>
    private sealed class GeneratedHar(int entries, int bodyBytes, int hugeEntry = -1, int hugeBytes = 0, string prelude = "\"version\":\"1.2\",") : Stream
    {
        private readonly string _body = new('b', bodyBytes);
        private byte[] _chunk = Encoding.UTF8.GetBytes("{\"log\":{" + prelude + "\"entries\":[");
        private int _offset;
        private int _next;

        public long Produced { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Produced; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_offset == _chunk.Length)
            {
                if (_next > entries)
                {
                    return 0;
                }
                _chunk = Encoding.UTF8.GetBytes(_next == entries ? "]}}" : Entry(_next));
                _offset = 0;
                _next++;
            }
            var n = Math.Min(count, _chunk.Length - _offset);
            Array.Copy(_chunk, _offset, buffer, offset, n);
            _offset += n;
            Produced += n;
            return n;
        }

        private string Entry(int i) =>
            (i == 0 ? string.Empty : ",\n") +
            $$$"""{"startedDateTime":"2026-01-01T00:00:00Z","time":1,"request":{"method":"POST","url":"http://web.localhost/e/{{{i}}}","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"text/plain"}],"postData":{"mimeType":"text/plain","text":"{{{(i == hugeEntry ? new string('h', hugeBytes) : _body)}}}"}},"response":{"status":200,"statusText":"OK","headers":[],"content":{"size":2,"text":"ok"}},"timings":{"wait":1}}""";

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
