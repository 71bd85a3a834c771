using System.Text;
using System.Text.Json;
using TunnelPS.Engine;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;

namespace TunnelPS.Fuzz;

/// <summary>The web inspector's inputs: its API query, the body of a replay call, and a HAR file to import.</summary>
internal static partial class FuzzTargets
{
    private static readonly Uri s_replayTarget = new("http://127.0.0.1:3000/");

    /// <summary>
    /// A few stored exchanges the query filters run over, made on first use: inside the fuzz callback, because
    /// instrumented code (InspectedCapture is in an instrumented namespace) must not run before afl's fork server.
    /// </summary>
    private static InspectedCapture[]? s_captures;

    private static InspectedCapture[] Captures => s_captures ??= MakeCaptures();

    /// <summary>
    /// GET /api/requests/http?&lt;input&gt;: the query string as the inspector reads it (<see cref="InspectorRequest"/>
    /// splits and unescapes it), then <see cref="RequestQuery.Parse"/>, which answers a query or the reason it is
    /// malformed and never throws, and the query run over a few exchanges (at most its limit, newest first).
    /// </summary>
    public static void InspectorQuery(ReadOnlySpan<byte> input)
    {
        var head = Encoding.ASCII.GetBytes("GET /api/requests/http?").Concat(input.ToArray()).Concat(Encoding.ASCII.GetBytes(" HTTP/1.1\r\nHost: 127.0.0.1:4040\r\n\r\n")).ToArray();
        HttpRequestHead? parsed;
        try
        {
            if (!HttpHeadParser.TryParseRequestHead(head, out parsed, out _) || parsed is null)
            {
                return;
            }
        }
        catch (HttpParseException)
        {
            return;   // a target the server never hands to the inspector
        }
        var request = new InspectorRequest(parsed, ReadOnlyMemory<byte>.Empty, 1);
        var query = RequestQuery.Parse(request, out var error);
        Check((query is null) != (error is null), "RequestQuery.Parse gave both a query and an error, or neither.");
        if (query is null)
        {
            return;
        }
        var selected = query.Select(Captures);
        Check(query.Limit < 0 || selected.Count <= query.Limit, $"{selected.Count} exchanges selected past the limit {query.Limit}.");
        for (var i = 1; i < selected.Count; i++)
        {
            Check(selected[i - 1].Id > selected[i].Id, "The selection is not newest first.");
        }
    }

    /// <summary>
    /// POST /api/requests/http with <paramref name="input"/> as the body: <c>ReplayCall.Parse</c> answers a call or
    /// throws JsonException, FormatException or InvalidOperationException (the handler's 400). A call it accepts
    /// builds the head a replay sends (ArgumentException or InvalidOperationException: a header the head cannot carry,
    /// also a 400), and that head, serialised, must parse back as one strict HTTP/1.1 request with the same method and
    /// target: no edit can smuggle a second request or a header line.
    /// </summary>
    public static void InspectorReplayCall(ReadOnlySpan<byte> input)
    {
        InspectorReplay.ReplayCall call;
        try
        {
            call = InspectorReplay.ReplayCall.Parse(input.ToArray());
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return;
        }
        HttpRequestHead head;
        ReadOnlyMemory<byte> body;
        try
        {
            head = ExchangeReplayer.BuildRequestHead(Captures[0].Store.Snapshot()[0], call.Target ?? s_replayTarget, call.Options, out body);
            var bytes = new byte[head.GetSerializedLength()];
            head.WriteTo(bytes);
            if (!HttpHeadParser.TryParseRequestHead(bytes, out var again, out var length))
            {
                throw new FuzzContractException("A replay head is incomplete when serialised.");
            }
            Check(length == bytes.Length, $"A replay head of {bytes.Length} bytes parses as {length}: it holds a second head.");
            Check(again!.Method == head.Method && again.Target == head.Target, "A replay head parses back to another request line.");
            Check(again.Headers["Content-Length"] is null ? body.IsEmpty : again.Headers["Content-Length"] == body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "A replay head's Content-Length does not match its body.");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // The handler's 400: a method, path or header the head cannot carry.
        }
        catch (HttpParseException ex)
        {
            throw new FuzzContractException($"A replay head the inspector would send does not parse: {ex.Message}");
        }
    }

    /// <summary>
    /// A HAR file imported by <see cref="HarReader.ReadEntries"/> with a small entry limit (so entries are passed over
    /// too): only <see cref="TunnelException"/> may escape, and the outcome (every entry read, the skipped count and
    /// the error) must not change when the file arrives one byte per read.
    /// </summary>
    public static void Har(ReadOnlySpan<byte> input)
    {
        var whole = ReadHar(new MemoryStream(input.ToArray(), writable: false));
        var trickled = ReadHar(new TricklingStream(input.ToArray()));
        Check(whole == trickled, $"A HAR read whole gives {whole}; read a byte at a time, {trickled}.");
    }

    private static string ReadHar(Stream stream)
    {
        var outcome = new StringBuilder();
        var progress = new HarReadProgress();
        try
        {
            foreach (var exchange in HarReader.ReadEntries(stream, progress, maxEntryBytes: 1024))
            {
                outcome.Append(exchange.Method).Append(' ').Append(exchange.Target).Append(' ').Append(exchange.RequestBody.Length).Append(' ').Append(exchange.Status).Append(';');
            }
        }
        catch (TunnelException ex)
        {
            // What the error says up to its first colon: a JSON syntax message quotes as much of the bad text as the
            // reader had, which depends on the reads.
            var colon = ex.Message.IndexOf(':', StringComparison.Ordinal);
            outcome.Append(" error: ").Append(colon < 0 ? ex.Message : ex.Message[..colon]);
        }
        return $"{progress.Read} read, {progress.Skipped} skipped: {outcome}";
    }

    private static InspectedCapture[] MakeCaptures()
    {
        var store = new CaptureStore();
        foreach (var (method, target, status) in new[] { ("GET", "/", 200), ("POST", "/api/orders?id=7", 201), ("DELETE", "/a*b?c", 500), ("GET", "/%E2%9C%93", 404) })
        {
            store.Add(new CapturedExchange
            {
                TunnelName = "web",
                Method = method,
                Target = target,
                HttpVersion = "HTTP/1.1",
                Host = "web.localhost",
                RequestHeaders = [new("Host", "web.localhost"), new("Content-Type", "text/plain"), new("Content-Length", "5")],
                RequestBody = "hello"u8.ToArray(),
                Status = status,
            });
        }
        return [new InspectedCapture("web", store, s_replayTarget)];
    }

    /// <summary>A stream that hands out one byte per read.</summary>
    private sealed class TricklingStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, 1)]);
    }
}
