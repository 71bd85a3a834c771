using System.Text;
using CsCheck;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

/// <summary>
/// Properties of the head parser and the chunked decoder over random valid messages (CsCheck: a failure prints a
/// seed to replay). The fuzz targets cover hostile bytes; these check that valid input means what it says.
/// </summary>
public sealed class HttpParserPropertyTests
{
    private const string TokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static readonly string[] FramingHeaders = ["Host", "Content-Length", "Transfer-Encoding"];

    private static readonly Gen<string> Token = Gen.Char[TokenChars].Array[1, 12].Select(c => new string(c));

    /// <summary>Visible ASCII and obs-text (0x80-0xFF), the bytes a request target or field value may hold.</summary>
    private static readonly Gen<char> VisibleChar = Gen.Frequency((8, Gen.Char['!', '~']), (1, Gen.Char['\u0080', '\u00FF']));

    private static readonly Gen<string> Target = VisibleChar.Array[0, 40].Select(c => "/" + new string(c));

    /// <summary>A field value: visible characters with spaces and tabs inside, none at either end.</summary>
    private static readonly Gen<string> FieldValue = Gen.Frequency((6, VisibleChar), (1, Gen.Char[" \t"])).Array[0, 30]
        .Select(c => new string(c).Trim(' ', '\t'));

    private static readonly Gen<string> Whitespace = Gen.Char[" \t"].Array[0, 2].Select(c => new string(c));

    private static readonly Gen<(string Name, string Value, string Before, string After)> Field =
        Gen.Select(Token.Where(n => !FramingHeaders.Contains(n, StringComparer.OrdinalIgnoreCase)), FieldValue, Whitespace, Whitespace);

    [Fact]
    public void ARequestHeadOfValidPartsParsesBackToTheSameParts()
    {
        Gen.Select(Token, Target, Gen.OneOf("HTTP/1.0", "HTTP/1.1"), Field.Array[0, 12], Gen.Byte.Array[0, 8])
            .Sample((method, target, version, fields, body) =>
            {
                var text = new StringBuilder().Append(method).Append(' ').Append(target).Append(' ').Append(version).Append("\r\n");
                foreach (var (name, value, before, after) in fields)
                {
                    text.Append(name).Append(':').Append(before).Append(value).Append(after).Append("\r\n");
                }
                var head = Encoding.Latin1.GetBytes(text.Append("\r\n").ToString());

                Assert.True(HttpHeadParser.TryParseRequestHead([.. head, .. body], out var parsed, out var length));
                Assert.Equal(head.Length, length);
                Assert.Equal(method, parsed.Method);
                Assert.Equal(target, parsed.Target);
                Assert.Equal(version, parsed.Version);
                Assert.Equal(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)), parsed.Headers);
                Assert.Equal(HttpBodyKind.None, HttpBodyFramer.ForRequest(parsed).Kind);
            }, iter: 1000);
    }

    /// <summary>A chunk: its data, how its size is written (case, leading zeros) and an optional extension.</summary>
    private static readonly Gen<(byte[] Data, bool Upper, int Zeros, string Extension)> Chunk =
        Gen.Select(Gen.Byte.Array[1, 200], Gen.Bool, Gen.Int[0, 3], Gen.OneOf(Gen.Const(""), Token.Select(t => ";" + t), Gen.Select(Token, Token, (n, v) => " ;" + n + "=" + v)));

    private static readonly Gen<string> Trailer = Gen.Select(Token, FieldValue, (n, v) => n + ": " + v + "\r\n");

    private static byte[] EncodeChunked((byte[] Data, bool Upper, int Zeros, string Extension)[] chunks, string lastExtension, string[] trailers)
    {
        var wire = new MemoryStream();
        foreach (var (data, upper, zeros, extension) in chunks)
        {
            var size = new string('0', zeros) + data.Length.ToString(upper ? "X" : "x", System.Globalization.CultureInfo.InvariantCulture);
            wire.Write(Encoding.ASCII.GetBytes(size + extension + "\r\n"));
            wire.Write(data);
            wire.Write("\r\n"u8);
        }
        wire.Write(Encoding.ASCII.GetBytes("0" + lastExtension + "\r\n" + string.Concat(trailers) + "\r\n"));
        return wire.ToArray();
    }

    [Fact]
    public void AChunkedBodySplitAnywhereDecodesAsInOnePiece()
    {
        Gen.Select(Chunk.Array[0, 5], Gen.OneOf("", ";last"), Trailer.Array[0, 3], Gen.Int[0, 1000].Array[0, 8], Gen.Bool)
            .Sample((chunks, lastExtension, trailers, cuts, isRequest) =>
            {
                var body = EncodeChunked(chunks, lastExtension, trailers);
                var expected = chunks.SelectMany(c => c.Data).ToArray();
                byte[] wire = [.. body, .. "GET /next HTTP/1.1\r\n"u8];

                var (data, consumed) = Decode(wire, [], isRequest);
                Assert.Equal(body.Length, consumed);
                Assert.Equal(expected, data);

                var points = cuts.Select(c => c % (wire.Length + 1)).Order().ToArray();
                var (splitData, splitConsumed) = Decode(wire, points, isRequest);
                Assert.Equal(consumed, splitConsumed);
                Assert.Equal(expected, splitData);
            }, iter: 1000);
    }

    /// <summary>Feeds <paramref name="wire"/> to a chunked framer in reads ending at <paramref name="cuts"/>, like a proxy would.</summary>
    private static (byte[] Data, int Consumed) Decode(byte[] wire, int[] cuts, bool isRequest)
    {
        var framer = isRequest
            ? HttpBodyFramer.ForRequest(new HttpRequestHead("POST", "/", "HTTP/1.1", new HttpHeaderList { { "Host", "a" }, { "Transfer-Encoding", "chunked" } }))
            : HttpBodyFramer.ForResponse(new HttpResponseHead("HTTP/1.1", 200, "OK", new HttpHeaderList { { "Transfer-Encoding", "chunked" } }), "GET");
        var sink = new Collector();
        var consumed = 0;
        var start = 0;
        foreach (var end in cuts.Append(wire.Length))
        {
            if (end < start || framer.IsComplete)
            {
                continue;
            }
            var used = framer.Advance(wire.AsSpan(start, end - start), sink, out var complete);
            Assert.InRange(used, 0, end - start);
            Assert.True(complete || used == end - start);
            consumed += used;
            start = end;
        }
        Assert.True(framer.IsComplete);
        Assert.Equal(consumed, framer.WireBytes);
        return (sink.Data.ToArray(), consumed);
    }

    private sealed class Collector : IHttpBodySink
    {
        public MemoryStream Data { get; } = new();

        public void OnBodyData(ReadOnlySpan<byte> data) => Data.Write(data);
    }
}
