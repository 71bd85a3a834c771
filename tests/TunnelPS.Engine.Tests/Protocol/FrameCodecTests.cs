using System.Buffers.Binary;
using System.Text;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Tests.Protocol;

public sealed class FrameCodecTests
{
    /// <summary>One of each message, by type name (messages are internal: a public theory takes the name).</summary>
    private static readonly Dictionary<string, Message> s_messages = new Message[]
    {
        new Auth { User = "tok", OS = "linux", Arch = "amd64", ClientId = "abc", Capabilities = ["tunnelps/1"] },
        new AuthResp { ClientId = "0123456789abcdef0123456789abcdef", Error = "" },
        new ReqTunnel { ReqId = "r1", Protocol = "http+https", Subdomain = "blog", HttpAuth = "u:p", RemotePort = 0 },
        new NewTunnel { ReqId = "r1", Url = "http://blog.example.com", Protocol = "http" },
        new ReqProxy(),
        new RegProxy { ClientId = "abc" },
        new StartProxy { Url = "tcp://example.com:40195", ClientAddr = "203.0.113.9:44372" },
        new Ping(),
        new Pong(),
        new CloseTunnel { Url = "http://blog.example.com" },
    }.ToDictionary(m => m.GetType().Name, StringComparer.Ordinal);

    public static TheoryData<string> AllMessages() => [.. s_messages.Keys];

    [Theory]
    [MemberData(nameof(AllMessages))]
    public async Task Every_message_round_trips(string name)
    {
        var message = s_messages[name];
        using var stream = new MemoryStream(FrameCodec.Encode(message));
        var read = await FrameCodec.ReadAsync(stream, CancellationToken.None);
        Assert.Equal(message.GetType(), read!.GetType());
        Assert.Equal(
            Encoding.UTF8.GetString(FrameCodec.Encode(message)),
            Encoding.UTF8.GetString(FrameCodec.Encode(read)));
    }

    [Fact]
    public void Frames_use_ngrok_field_names_and_an_8_byte_little_endian_length()
    {
        var frame = FrameCodec.Encode(new ReqTunnel { ReqId = "c8", Protocol = "http", Subdomain = "blog" });
        var length = BinaryPrimitives.ReadInt64LittleEndian(frame);
        Assert.Equal(frame.Length - 8, length);
        var json = Encoding.UTF8.GetString(frame, 8, frame.Length - 8);
        Assert.StartsWith("{\"Type\":\"ReqTunnel\",\"Payload\":{", json, StringComparison.Ordinal);
        Assert.Contains("\"ReqId\":\"c8\"", json, StringComparison.Ordinal);
        Assert.Contains("\"RemotePort\":0", json, StringComparison.Ordinal);
        Assert.Equal(1, json.Split("\"Type\"").Length - 1);
    }

    [Fact]
    public async Task A_frame_delivered_one_byte_at_a_time_is_read_in_full()
    {
        var frames = FrameCodec.Encode(new StartProxy { Url = "http://a.localhost", ClientAddr = "127.0.0.1:1" })
            .Concat(FrameCodec.Encode(new Ping())).ToArray();
        using var stream = new TrickleStream(frames);
        var first = Assert.IsType<StartProxy>(await FrameCodec.ReadAsync(stream, CancellationToken.None));
        Assert.Equal("http://a.localhost", first.Url);
        Assert.IsType<Ping>(await FrameCodec.ReadAsync(stream, CancellationToken.None));
        Assert.Null(await FrameCodec.ReadAsync(stream, CancellationToken.None));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(FrameCodec.MaxFrameLength + 1L)]
    [InlineData(long.MaxValue)]
    public async Task Lengths_outside_the_limit_are_protocol_errors(long length)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(header, length);
        using var stream = new MemoryStream(header);
        var error = await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
        Assert.Contains("outside the allowed range", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_types_are_protocol_errors_naming_the_type()
    {
        var body = Encoding.UTF8.GetBytes("{\"Type\":\"Bogus\",\"Payload\":{}}");
        using var stream = new MemoryStream(Frame(body));
        var error = await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
        Assert.Contains("'Bogus'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_type_with_escape_sequences_is_quoted_with_its_controls_shown()
    {
        var body = Encoding.UTF8.GetBytes("{\"Type\":\"X\\u001b]0;pwned\\u0007\\u001b[2J\",\"Payload\":{}}");
        using var stream = new MemoryStream(Frame(body));
        var error = await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
        Assert.Contains("'X␛]0;pwned␇␛[2J'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"Payload\":{}}")]
    public async Task Malformed_bodies_are_protocol_errors(string text)
    {
        using var stream = new MemoryStream(Frame(Encoding.UTF8.GetBytes(text)));
        await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_frame_is_a_protocol_error()
    {
        var frame = FrameCodec.Encode(new RegProxy { ClientId = "abcdef" });
        using var stream = new MemoryStream(frame[..^3]);
        var error = await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
        Assert.Contains("inside a frame body", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Field_names_are_read_case_insensitively_and_missing_fields_are_empty()
    {
        using var stream = new MemoryStream(Frame(Encoding.UTF8.GetBytes("{\"Type\":\"NewTunnel\",\"Payload\":{\"url\":\"http://x.localhost\",\"Extra\":1}}")));
        var message = Assert.IsType<NewTunnel>(await FrameCodec.ReadAsync(stream, CancellationToken.None));
        Assert.Equal("http://x.localhost", message.Url);
        Assert.Equal("", message.Error);
    }

    [Fact]
    public async Task Invalid_utf8_is_a_protocol_error()
    {
        // The JSON reader only notices when it makes a string, and then throws InvalidOperationException.
        byte[] body = [.. "{\"Type\":\"NewTunnel\",\"Payload\":{\"Url\":\""u8, 0xC3, 0x28, .. "\"}}"u8];
        using var stream = new MemoryStream(Frame(body));
        var error = await Assert.ThrowsAsync<ProtocolException>(() => FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask());
        Assert.Contains("not valid UTF-8", error.Message, StringComparison.Ordinal);

        byte[] inName = [.. "{\"Type\":\"Ping\",\""u8, 0xFF, .. "\":1}"u8];
        Assert.Throws<ProtocolException>(() => FrameCodec.Decode(inName));
    }

    [Fact]
    public void Half_a_surrogate_pair_is_a_protocol_error()
    {
        Assert.Throws<ProtocolException>(() => FrameCodec.Decode("{\"Type\":\"NewTunnel\",\"Payload\":{\"ReqId\":\"a\\ud800b\"}}"u8));
    }

    [Theory]
    [InlineData("{\"Type\":\"ReqTunnel\",\"Payload\":{\"Protocol\":null}}", "null for Protocol")]
    [InlineData("{\"Type\":\"Auth\",\"Payload\":{\"User\":null}}", "null for User")]
    [InlineData("{\"Type\":\"Auth\",\"Payload\":{\"Capabilities\":[\"tunnelps/1\",null]}}", "null item in Capabilities")]
    [InlineData("{\"Type\":\"ReqTunnel\",\"Payload\":{\"AllowIP\":[null]}}", "null item in AllowIP")]
    public void Null_for_a_string_is_a_protocol_error_naming_the_field(string json, string messagePart)
    {
        // Deserialised as is, such a null fails later in the server (request.Protocol.Split) as a NullReferenceException.
        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Decode(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_accepted_where_the_field_is_optional()
    {
        var auth = Assert.IsType<Auth>(FrameCodec.Decode("{\"Type\":\"Auth\",\"Payload\":{\"User\":\"t\",\"Capabilities\":null}}"u8));
        Assert.Null(auth.Capabilities);
        var tunnel = Assert.IsType<ReqTunnel>(FrameCodec.Decode("{\"Type\":\"ReqTunnel\",\"Payload\":{\"HostHeader\":null,\"DenyIP\":null}}"u8));
        Assert.Null(tunnel.HostHeader);
    }

    [Theory]
    [InlineData("{\"Type\":\"Ping\",\"Payload\":{}}xyz")]
    [InlineData("{\"Type\":\"Ping\",\"Payload\":{}}{\"Type\":\"Pong\"}")]
    public void Bytes_after_the_json_object_are_a_protocol_error(string text)
    {
        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Decode(Encoding.UTF8.GetBytes(text)));
        Assert.Contains("after its JSON object", error.Message, StringComparison.Ordinal);
        Assert.IsType<Ping>(FrameCodec.Decode("{\"Type\":\"Ping\",\"Payload\":{}} \r\n"u8));
    }

    private static byte[] Frame(byte[] body)
    {
        var frame = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt64LittleEndian(frame, body.Length);
        body.CopyTo(frame, 8);
        return frame;
    }

    /// <summary>A stream that returns at most one byte per read.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
