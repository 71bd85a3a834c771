using System.Text;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Fuzz;

/// <summary>
/// The fuzz targets, one per parser that faces hostile input. Each takes any bytes and either returns or throws the
/// parser's documented exception, which it catches; anything else escapes and is a finding: an exception outside the
/// contract (IndexOutOfRange, NullReference, Overflow, ...) or a <see cref="FuzzContractException"/> when a parser
/// answers but breaks one of its promises (consumed more than it was given, a split changed the outcome, a parsed
/// head does not survive re-serialisation). Used by the afl-fuzz executable (<see cref="Program"/>) and by the corpus
/// replay test in TunnelPS.Engine.Tests: this is the one copy.
/// </summary>
internal static partial class FuzzTargets
{
    /// <summary>The target names, which are also the folder names under corpus/.</summary>
    public static IReadOnlyList<string> Names { get; } = ["frame", "request-head", "response-head", "chunked", "request-framing", "response-framing", "mux-frame", "token-file", "server-config", "inspector-query", "inspector-replay", "har"];

    /// <summary>Runs the target called <paramref name="name"/> on <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentException">No target has that name.</exception>
    public static void Run(string name, ReadOnlySpan<byte> input)
    {
        switch (name)
        {
            case "frame":
                Frame(input);
                break;
            case "request-head":
                RequestHead(input);
                break;
            case "response-head":
                ResponseHead(input);
                break;
            case "chunked":
                Chunked(input);
                break;
            case "request-framing":
                RequestFraming(input);
                break;
            case "response-framing":
                ResponseFraming(input);
                break;
            case "mux-frame":
                MuxFrames(input);
                break;
            case "token-file":
                TokenFile(input);
                break;
            case "server-config":
                ServerConfig(input);
                break;
            case "inspector-query":
                InspectorQuery(input);
                break;
            case "inspector-replay":
                InspectorReplayCall(input);
                break;
            case "har":
                Har(input);
                break;
            default:
                throw new ArgumentException($"Unknown fuzz target '{name}'; the targets are {string.Join(", ", Names)}.", nameof(name));
        }
    }

    /// <summary>
    /// <see cref="FrameCodec.ReadAsync"/> over the input until the stream ends; every message read must encode again
    /// (the server echoes fields such as ReqId back to the peer) and decode to the same type.
    /// </summary>
    public static void Frame(ReadOnlySpan<byte> input)
    {
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        try
        {
            while (true)
            {
                var read = FrameCodec.ReadAsync(stream, CancellationToken.None);
                if (!read.IsCompleted)
                {
                    throw new FuzzContractException("FrameCodec.ReadAsync did not complete synchronously over a MemoryStream.");
                }
                var message = read.Result;
                if (message is null)
                {
                    return;
                }
                byte[] again;
                try
                {
                    again = FrameCodec.Encode(message);
                }
                catch (ProtocolException)
                {
                    // Escaping can make a re-encoded frame longer than the limit; Encode says so in its own terms.
                    continue;
                }
                var decoded = FrameCodec.Decode(again.AsSpan(FrameCodec.HeaderLength));
                Check(decoded.GetType() == message.GetType(), $"A {message.Type} frame re-encoded decodes as {decoded.Type}.");
            }
        }
        catch (ProtocolException)
        {
        }
    }

    /// <summary>
    /// <see cref="HttpHeadParser.TryParseRequestHead"/> (strict). A head it accepts must pass <see cref="CheckHead{T}"/>,
    /// parse back to the same request from its re-serialised bytes, and give a body framer without another error.
    /// </summary>
    public static void RequestHead(ReadOnlySpan<byte> input)
    {
        HttpRequestHead? head;
        int length;
        try
        {
            if (!HttpHeadParser.TryParseRequestHead(input, out head, out length))
            {
                return;
            }
        }
        catch (HttpParseException ex)
        {
            Check(ex.StatusCode is 400 or 431, $"A request parse error with status {ex.StatusCode}.");
            return;
        }

        // From here on an HttpParseException is a finding too: the head was accepted.
        CheckHead(input, head, length, HttpHeadParser.TryParseRequestHead, "request");
        var reparsed = Reparse<HttpRequestHead>(head, HttpHeadParser.TryParseRequestHead);
        if (reparsed is not null)
        {
            Check(reparsed.Method == head.Method && reparsed.Target == head.Target && reparsed.Version == head.Version,
                "A re-serialised request head parses to a different request line.");
            CheckSameHeaders(head, reparsed);
        }
        var framer = HttpBodyFramer.ForRequest(head);
        Check(framer.Kind is HttpBodyKind.None or HttpBodyKind.ContentLength or HttpBodyKind.Chunked, $"A request body of kind {framer.Kind}.");
    }

    /// <summary>
    /// <see cref="HttpHeadParser.TryParseResponseHead"/> (lenient). A head it accepts must pass <see cref="CheckHead{T}"/>,
    /// parse back to the same response from its re-serialised bytes, and give a body framer for any request method.
    /// </summary>
    public static void ResponseHead(ReadOnlySpan<byte> input)
    {
        HttpResponseHead? head;
        int length;
        try
        {
            if (!HttpHeadParser.TryParseResponseHead(input, out head, out length))
            {
                return;
            }
        }
        catch (HttpParseException ex)
        {
            Check(ex.StatusCode is 400 or 502, $"A response parse error with status {ex.StatusCode}.");
            return;
        }

        CheckHead(input, head, length, HttpHeadParser.TryParseResponseHead, "response");
        var reparsed = Reparse<HttpResponseHead>(head, HttpHeadParser.TryParseResponseHead);
        if (reparsed is not null)
        {
            Check(reparsed.StatusCode == head.StatusCode && reparsed.Reason == head.Reason && reparsed.Version == head.Version,
                "A re-serialised response head parses to a different status line.");
            CheckSameHeaders(head, reparsed);
        }
        foreach (var method in (ReadOnlySpan<string>)["GET", "HEAD", "CONNECT"])
        {
            _ = HttpBodyFramer.ForResponse(head, method);
        }
    }

    /// <summary>
    /// A chunked body through <see cref="HttpBodyFramer"/>, as a request (strict) and as a response (lenient). The first
    /// input byte seeds the read sizes; the rest is the body, walked once in one piece and once in those reads. Both
    /// walks must agree on everything: the outcome (error message included), the bytes consumed and the decoded data.
    /// </summary>
    public static void Chunked(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }
        var seed = input[0];
        var body = input[1..];
        foreach (var isRequest in (ReadOnlySpan<bool>)[true, false])
        {
            var whole = Walk(body, isRequest, seed: null);
            var split = Walk(body, isRequest, seed);
            Check(whole.Equals(split), $"Chunked ({(isRequest ? "request" : "response")}): one piece gave {whole}, reads seeded by {seed} gave {split}.");
        }
    }

    /// <summary>
    /// Differential: <see cref="HttpHeadScanner.TryScanResponse"/> against <see cref="HttpHeadParser.TryParseResponseHead"/>.
    /// On every input both must need more bytes, both reject (the same message and status) or both accept at the same
    /// length; an accepted head must give the parsed head's status, version, keep-alive and Connection: close, and, for
    /// a GET, HEAD or CONNECT, the body framing <see cref="HttpBodyFramer.ForResponse"/> gives from the parsed fields.
    /// </summary>
    public static void ResponseFraming(ReadOnlySpan<byte> input)
    {
        var parse = Outcome<HttpResponseHead>(input, static (ReadOnlySpan<byte> data, out HttpResponseHead? head, out int length) => HttpHeadParser.TryParseResponseHead(data, out head, out length), out var parsed, out var parsedLength);
        var scan = Outcome<ScannedHead>(input, HttpHeadScanner.TryScanResponse, out var scanned, out var length);
        CheckSameOutcome(parse, scan, "response");
        if (parsed is null)
        {
            return;
        }
        Check(length == parsedLength, $"The response scanner found a {length}-byte head, the parser {parsedLength} bytes.");
        Check(scanned.StatusCode == parsed.StatusCode && scanned.IsHttp11 == parsed.IsHttp11 && scanned.IsInterim == parsed.IsInterim,
            $"The response scanner read {scanned.StatusCode} (1.1: {scanned.IsHttp11}), the parser {parsed.StatusCode} {parsed.Version}.");
        Check(scanned.KeepAlive == parsed.KeepAlive && scanned.ConnectionClose == parsed.Headers.ContainsToken("Connection", "close")
            && scanned.IsUpgradeRequest == (parsed.Headers.Contains("Upgrade") && parsed.Headers.ContainsToken("Connection", "upgrade")),
            $"The response scanner says keep-alive {scanned.KeepAlive}, the parser {parsed.KeepAlive}.");
        foreach (var method in (ReadOnlySpan<string>)["GET", "HEAD", "connect"])
        {
            var expected = HttpBodyFramer.ForResponse(parsed, method);
            var framer = new HttpBodyFramer();
            framer.StartResponse(scanned, method == "HEAD", method == "connect");
            CheckSameFraming(expected, framer, $"response to {method}");
        }
        CheckSameAlone(input, length, HttpHeadScanner.TryScanResponse);
    }

    /// <summary>
    /// Differential: <see cref="HttpHeadScanner.TryScanRequest"/> against <see cref="HttpHeadParser.TryParseRequestHead"/>,
    /// as <see cref="ResponseFraming"/>; an accepted head must give the parsed method, version, keep-alive, upgrade and
    /// CONNECT flags and the body framing <see cref="HttpBodyFramer.ForRequest(HttpRequestHead)"/> gives.
    /// </summary>
    public static void RequestFraming(ReadOnlySpan<byte> input)
    {
        var parse = Outcome<HttpRequestHead>(input, static (ReadOnlySpan<byte> data, out HttpRequestHead? head, out int length) => HttpHeadParser.TryParseRequestHead(data, out head, out length), out var parsed, out var parsedLength);
        var scan = Outcome<ScannedHead>(input, HttpHeadScanner.TryScanRequest, out var scanned, out var length);
        CheckSameOutcome(parse, scan, "request");
        if (parsed is null)
        {
            return;
        }
        Check(length == parsedLength, $"The request scanner found a {length}-byte head, the parser {parsedLength} bytes.");
        var method = input.Slice(scanned.MethodStart, scanned.MethodLength);
        Check(Encoding.Latin1.GetString(method) == parsed.Method,
            $"The request scanner found the method '{Encoding.Latin1.GetString(method)}', the parser '{parsed.Method}'.");
        Check(scanned.IsHttp11 == parsed.IsHttp11 && scanned.KeepAlive == parsed.KeepAlive && scanned.IsUpgradeRequest == parsed.IsUpgradeRequest,
            $"The request scanner says 1.1 {scanned.IsHttp11}, keep-alive {scanned.KeepAlive}, upgrade {scanned.IsUpgradeRequest}; the parser {parsed.Version}, {parsed.KeepAlive}, {parsed.IsUpgradeRequest}.");
        Check(scanned.IsConnect == parsed.IsConnect
            && scanned.IsConnectMethod == string.Equals(parsed.Method, "CONNECT", StringComparison.OrdinalIgnoreCase)
            && scanned.IsHeadMethod == string.Equals(parsed.Method, "HEAD", StringComparison.OrdinalIgnoreCase),
            $"The request scanner's method flags differ from '{parsed.Method}'.");
        var framer = new HttpBodyFramer();
        framer.StartRequest(scanned);
        CheckSameFraming(HttpBodyFramer.ForRequest(parsed), framer, "request");
        CheckSameAlone(input, length, HttpHeadScanner.TryScanRequest);
    }

    /// <summary>
    /// Runs the files of <paramref name="directory"/> that match <paramref name="pattern"/> through target
    /// <paramref name="name"/>; returns one line (and stack) per file that raised anything.
    /// </summary>
    public static IReadOnlyList<string> Replay(string name, string directory, string pattern = "*")
    {
        var failures = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory, pattern).Order(StringComparer.Ordinal))
        {
            try
            {
                Run(name, File.ReadAllBytes(file));
            }
#pragma warning disable CA1031 // Every escaping exception is a finding to report, whatever its type.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures.Add($"{name}/{Path.GetFileName(file)}: {ex.GetType().Name}: {ex.Message}{Environment.NewLine}{ex.StackTrace}");
            }
        }
        return failures;
    }

    private static ChunkedOutcome Walk(ReadOnlySpan<byte> body, bool isRequest, byte? seed)
    {
        var framer = isRequest ? ChunkedRequestFramer() : ChunkedResponseFramer();
        var sink = new HashingSink();
        var consumed = 0;
        var offset = 0;
        var reads = new ReadSizes(seed);
        string? error = null;
        var complete = false;
        try
        {
            while (offset < body.Length && !complete)
            {
                var size = Math.Min(reads.Next(), body.Length - offset);
                var piece = body.Slice(offset, size);
                var used = framer.Advance(piece, sink, out complete);
                Check(used >= 0 && used <= piece.Length, $"Advance reported {used} bytes consumed of {piece.Length} given.");
                Check(complete || used == piece.Length, $"Advance left {piece.Length - used} bytes of an unfinished body.");
                Check(complete == framer.IsComplete, "Advance's complete flag and IsComplete disagree.");
                consumed += used;
                offset += size;
            }
            if (complete)
            {
                Check(framer.Advance(body, sink, out var still) == 0 && still, "A complete framer consumed more bytes.");
            }
        }
        catch (HttpParseException ex)
        {
            Check(ex.StatusCode == 400, $"A chunked body error with status {ex.StatusCode}.");
            Check(ex.Message.StartsWith("Malformed chunked body: ", StringComparison.Ordinal), $"A chunked body error that does not say so: {ex.Message}");
            error = ex.Message;
        }
        if (error is not null)
        {
            // The caller drops the connection; how many bytes the earlier reads had taken depends on the split. The
            // decoded data before the error does not: chunk data is passed on as it is walked.
            return new ChunkedOutcome(complete, -1, sink.Count, sink.Hash, error);
        }
        Check(framer.WireBytes == consumed, $"WireBytes {framer.WireBytes} but {consumed} bytes consumed.");
        Check(framer.DataBytes == sink.Count && framer.DataBytes <= framer.WireBytes, $"DataBytes {framer.DataBytes}, sink saw {sink.Count}, wire {framer.WireBytes}.");
        return new ChunkedOutcome(complete, consumed, sink.Count, sink.Hash, error);
    }

    private static HttpBodyFramer ChunkedRequestFramer()
    {
        var head = new HttpRequestHead("POST", "/", "HTTP/1.1", new HttpHeaderList { { "Host", "fuzz" }, { "Transfer-Encoding", "chunked" } });
        var framer = HttpBodyFramer.ForRequest(head);
        Check(framer.Kind == HttpBodyKind.Chunked, "A chunked request head did not give a chunked framer.");
        return framer;
    }

    private static HttpBodyFramer ChunkedResponseFramer()
    {
        var head = new HttpResponseHead("HTTP/1.1", 200, "OK", new HttpHeaderList { { "Transfer-Encoding", "chunked" } });
        var framer = HttpBodyFramer.ForResponse(head, "GET");
        Check(framer.Kind == HttpBodyKind.Chunked, "A chunked response head did not give a chunked framer.");
        return framer;
    }

    /// <summary>The head's length is within the input and the limits, and no prefix of it parses (or fails).</summary>
    private static void CheckHead<T>(ReadOnlySpan<byte> input, T head, int length, HeadParser<T> parse, string requestOrResponse)
        where T : HttpMessageHead
    {
        Check(length > 0 && length <= input.Length, $"A {requestOrResponse} head of {length} bytes in {input.Length}.");
        Check(length <= HttpHeadParser.MaxHeadLength, $"A {requestOrResponse} head of {length} bytes passed the limit.");
        Check(head.Headers.Count <= HttpHeadParser.MaxHeaderCount, $"A {requestOrResponse} head with {head.Headers.Count} fields passed the limit.");

        // A proxy parses a head as its bytes arrive: a prefix of a good head needs more bytes; it is never an error
        // and never a shorter head.
        foreach (var cut in (ReadOnlySpan<int>)[length - 1, length / 2, 1])
        {
            if (cut <= 0 || cut >= length)
            {
                continue;
            }
            try
            {
                Check(!parse(input[..cut], out _, out _), $"A {cut}-byte prefix of a {length}-byte {requestOrResponse} head parsed as a whole head.");
            }
            catch (HttpParseException ex)
            {
                throw new FuzzContractException($"A {cut}-byte prefix of a good {length}-byte {requestOrResponse} head was rejected: {ex.Message}", ex);
            }
        }
    }

    private static T? Reparse<T>(T head, HeadParser<T> parse)
        where T : HttpMessageHead
    {
        var bytes = head.ToArray();
        try
        {
            Check(parse(bytes, out var again, out var length), "A re-serialised head is incomplete.");
            Check(length == bytes.Length, $"A re-serialised head of {bytes.Length} bytes parsed as {length}.");
            return again;
        }
        catch (HttpParseException) when (bytes.Length > HttpHeadParser.MaxHeadLength)
        {
            // Re-serialising writes CRLF and "Name: value", which can take a head at the limit past it.
            return null;
        }
    }

    private static void CheckSameHeaders(HttpMessageHead head, HttpMessageHead reparsed)
    {
        Check(head.Headers.Count == reparsed.Headers.Count, "A re-serialised head has a different number of fields.");
        for (var i = 0; i < head.Headers.Count; i++)
        {
            Check(head.Headers[i].Key == reparsed.Headers[i].Key && head.Headers[i].Value == reparsed.Headers[i].Value,
                $"Field {i} changed in a re-serialised head: '{head.Headers[i].Key}: {head.Headers[i].Value}'.");
        }
    }

    /// <summary>Runs a head reader: the exception it threw, or whether it found a whole head.</summary>
    private static (bool Complete, HttpParseException? Error) Outcome<T>(ReadOnlySpan<byte> input, HeadReader<T> read, out T? head, out int length)
    {
        try
        {
            return (read(input, out head, out length), null);
        }
        catch (HttpParseException ex)
        {
            head = default;
            length = 0;
            return (false, ex);
        }
    }

    private static void CheckSameOutcome((bool Complete, HttpParseException? Error) parse, (bool Complete, HttpParseException? Error) scan, string what)
    {
        if (parse.Error is not null || scan.Error is not null)
        {
            Check(parse.Error is not null && scan.Error is not null && parse.Error.Message == scan.Error.Message && parse.Error.StatusCode == scan.Error.StatusCode,
                $"The {what} parser says '{parse.Error?.Message}' ({parse.Error?.StatusCode}), the scanner '{scan.Error?.Message}' ({scan.Error?.StatusCode}).");
            return;
        }
        Check(parse.Complete == scan.Complete, $"The {what} parser says complete: {parse.Complete}, the scanner {scan.Complete}.");
    }

    private static void CheckSameFraming(HttpBodyFramer expected, HttpBodyFramer actual, string what) =>
        Check(expected.Kind == actual.Kind && expected.ContentLength == actual.ContentLength && expected.IsComplete == actual.IsComplete,
            $"The {what} body is {expected.Kind} ({expected.ContentLength}) from the parser, {actual.Kind} ({actual.ContentLength}) from the scanner.");

    /// <summary>A head is the same head without the bytes after it.</summary>
    private static void CheckSameAlone(ReadOnlySpan<byte> input, int length, HeadReader<ScannedHead> scan)
    {
        var complete = scan(input[..length], out _, out var again);
        Check(complete && again == length, $"A {length}-byte head scanned alone is complete: {complete} ({again} bytes).");
    }

    private delegate bool HeadReader<T>(ReadOnlySpan<byte> data, out T? head, out int headLength);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzContractException(what);
        }
    }

    /// <summary>The shape of the head parser methods, so the checks take either.</summary>
    private delegate bool HeadParser<T>(ReadOnlySpan<byte> data, out T? head, out int headLength)
        where T : HttpMessageHead;

    private readonly record struct ChunkedOutcome(bool Complete, int Consumed, long DataBytes, ulong DataHash, string? Error);

    /// <summary>Read sizes from a small deterministic generator: mostly short reads, now and then an empty or a long one.</summary>
    private struct ReadSizes(byte? seed)
    {
        private uint _state = seed is { } s ? 0x9E3779B9u ^ s : 0;

        public int Next()
        {
            if (seed is null)
            {
                return int.MaxValue;
            }
            _state = (_state * 1664525u) + 1013904223u;
            var pick = _state >> 24;
            return pick switch
            {
                < 16 => 0,
                < 200 => 1 + (int)(pick % 7),
                _ => 1 + (int)(pick * 3),
            };
        }
    }

    /// <summary>Counts and hashes the decoded body (FNV-1a) so two walks can be compared without keeping the data.</summary>
    private sealed class HashingSink : IHttpBodySink
    {
        public long Count { get; private set; }

        public ulong Hash { get; private set; } = 14695981039346656037UL;

        public void OnBodyData(ReadOnlySpan<byte> data)
        {
            var hash = Hash;
            foreach (var b in data)
            {
                hash = (hash ^ b) * 1099511628211UL;
            }
            Hash = hash;
            Count += data.Length;
        }
    }
}
