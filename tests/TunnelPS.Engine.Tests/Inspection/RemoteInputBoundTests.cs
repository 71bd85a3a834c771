using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Server;

namespace TunnelPS.Engine.Tests.Inspection;

/// <summary>
/// Bounds on what a visitor or a local service can make the capture and the access checks hold (docs/limits.md): a
/// compressed body that expands without end, response bytes with no request to answer, an Authorization value of any
/// length.
/// </summary>
public sealed class RemoteInputBoundTests
{
    [Fact]
    public void A_compressed_body_is_decoded_only_up_to_its_bound()
    {
        // 64 MiB of zeros gzip to about 64 KiB: a body that is small on the wire and large in memory.
        using var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 64; i++)
            {
                zip.Write(zeros);
            }
        }
        var bomb = compressed.ToArray();
        Assert.True(bomb.Length < 256 * 1024);

        Assert.Null(BodyDecoder.Decompress(bomb, "gzip"));
        Assert.Null(BodyDecoder.Decompress(bomb, "gzip", maxDecodedSize: 1024 * 1024));
        Assert.Equal(64 * 1024 * 1024, BodyDecoder.Decompress(bomb, "gzip", maxDecodedSize: 64 * 1024 * 1024)!.Length);
    }

    [Fact]
    public void Response_bytes_with_no_request_to_answer_are_held_only_up_to_their_bound()
    {
        var store = new CaptureStore();
        using var tap = ConnectionCapture.CreateTap(store, new CaptureContext
        {
            TunnelName = "web",
            PublicUrl = "https://web.example.com",
            LocalAddress = "localhost:3000",
            ConnectionId = 7,
            ClientAddress = "127.0.0.1:5000",
            TimeProvider = new FakeTimeProvider(),
        });
        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
        var sent = 0;
        while (!tap.IsPassThrough && sent <= 4 * HttpExchangeTap.MaxEarlyResponseBytes)
        {
            tap.OnLocalData(chunk);
            sent += chunk.Length;
        }

        // The tap let go once the bound was passed (the stream itself is untouched: the tap only observes it), and
        // holds nothing more whatever else arrives.
        Assert.True(tap.IsPassThrough);
        Assert.Equal(HttpExchangeTap.MaxEarlyResponseBytes + chunk.Length, sent);
        tap.OnLocalData(chunk);
        tap.OnVisitorData("GET / HTTP/1.1\r\nHost: web.example.com\r\n\r\n"u8);
        Assert.Empty(store.Snapshot());
    }

    [Fact]
    public void An_Authorization_value_beyond_its_bound_is_refused_even_with_the_right_credentials()
    {
        var password = new string('p', 4000);
        var check = new BasicAuthentication("user:" + password);
        var value = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + password));
        Assert.True(value.Length > 4096);
        Assert.False(check.IsAuthorized(value));
        Assert.False(check.IsAuthorized(Encoding.ASCII.GetBytes(value)));

        var fits = new BasicAuthentication("user:secret");
        Assert.True(fits.IsAuthorized("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:secret"))));
    }
}
