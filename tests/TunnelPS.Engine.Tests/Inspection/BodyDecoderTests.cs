using System.IO.Compression;
using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Tests.Inspection;

public sealed class BodyDecoderTests
{
    private static byte[] Compress(byte[] data, Func<Stream, Stream> open)
    {
        var output = new MemoryStream();
        using (var stream = open(output))
        {
            stream.Write(data);
        }
        return output.ToArray();
    }

    [Fact]
    public void DecodesGzipDeflateBrotliAndStacks()
    {
        var text = Encoding.UTF8.GetBytes("hello hello hello");
        Assert.Equal(text, BodyDecoder.Decompress(Compress(text, s => new GZipStream(s, CompressionLevel.Fastest, true)), "gzip"));
        Assert.Equal(text, BodyDecoder.Decompress(Compress(text, s => new ZLibStream(s, CompressionLevel.Fastest, true)), "deflate"));
        Assert.Equal(text, BodyDecoder.Decompress(Compress(text, s => new DeflateStream(s, CompressionLevel.Fastest, true)), "deflate"));
        Assert.Equal(text, BodyDecoder.Decompress(Compress(text, s => new BrotliStream(s, CompressionLevel.Fastest, true)), "br"));
        var stacked = Compress(Compress(text, s => new GZipStream(s, CompressionLevel.Fastest, true)), s => new BrotliStream(s, CompressionLevel.Fastest, true));
        Assert.Equal(text, BodyDecoder.Decompress(stacked, "gzip, br"));
        Assert.Equal(text, BodyDecoder.Decompress(text, null));
        Assert.Equal(text, BodyDecoder.Decompress(text, "identity"));
    }

    [Fact]
    public void FailuresAndBombsGiveNull()
    {
        Assert.Null(BodyDecoder.Decompress("not gzip"u8, "gzip"));
        Assert.Null(BodyDecoder.Decompress("x"u8, "compress"));
        var bomb = Compress(new byte[1024 * 1024], s => new GZipStream(s, CompressionLevel.Optimal, true));
        Assert.Null(BodyDecoder.Decompress(bomb, "gzip", maxDecodedSize: 64 * 1024));
        Assert.NotNull(BodyDecoder.Decompress(bomb, "gzip"));
    }

    [Fact]
    public void DecodesTextByCharset()
    {
        Assert.Equal("caf\u00e9", BodyDecoder.DecodeText([0x63, 0x61, 0x66, 0xE9], "text/plain; charset=ISO-8859-1"));
        Assert.Equal("caf\u00e9", BodyDecoder.DecodeText(Encoding.UTF8.GetBytes("caf\u00e9"), "text/plain"));
        Assert.Equal("x", BodyDecoder.DecodeText([0xEF, 0xBB, 0xBF, (byte)'x'], "text/plain; charset=\"bogus-charset\""));
        Assert.Equal("utf-8", BodyDecoder.GetCharset("text/html; charset=\"utf-8\""));
    }

    [Fact]
    public void RecognisesJsonAndText()
    {
        Assert.True(BodyDecoder.IsJson("{}"u8, "application/problem+json"));
        Assert.True(BodyDecoder.IsJson(" [1, {\"a\": 2}]"u8, null));
        Assert.False(BodyDecoder.IsJson("[1,"u8, null));
        Assert.False(BodyDecoder.IsJson("{}"u8, "text/html"));
        Assert.True(BodyDecoder.IsText("<html/>"u8, "text/html; charset=utf-8"));
        Assert.True(BodyDecoder.IsText("a=1&b=2"u8, "application/x-www-form-urlencoded"));
        Assert.False(BodyDecoder.IsText("abc"u8, "image/png"));
        Assert.True(BodyDecoder.IsText("plain\r\ntext"u8, null));
        Assert.False(BodyDecoder.IsText(new byte[] { 0, 1, 2 }, null));
        Assert.False(BodyDecoder.IsText(new byte[] { 0xC3, 0x28 }, null));
    }
}
