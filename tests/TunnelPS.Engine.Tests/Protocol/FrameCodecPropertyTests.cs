using System.Text;
using CsCheck;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Tests.Protocol;

/// <summary>Properties of <see cref="FrameCodec"/> over random messages (CsCheck: a failure prints a seed to replay).</summary>
public sealed class FrameCodecPropertyTests
{
    /// <summary>Any Unicode text without lone surrogates: ASCII mostly, some Latin-1, BMP and astral characters.</summary>
    private static readonly Gen<string> Text = Gen.Frequency(
            (6, Gen.Int[0x20, 0x7E]),
            (1, Gen.Int[0, 0x1F]),
            (1, Gen.Int[0x80, 0xFF]),
            (1, Gen.Int[0x100, 0xD7FF]),
            (1, Gen.Int[0xE000, 0x10FFFF]))
        .Array[0, 24]
        .Select(codePoints =>
        {
            var text = new StringBuilder();
            foreach (var codePoint in codePoints)
            {
                text.Append(char.ConvertFromUtf32(codePoint));
            }
            return text.ToString();
        });

    private static readonly Gen<IReadOnlyList<string>?> TextList = Text.Array[0, 4].Select(a => (IReadOnlyList<string>)a).Null(0.3);

    private static readonly Gen<Message> AnyMessage = Gen.OneOf<Message>(
        Gen.Select(Text, Text, Text, Text, TextList, (user, os, arch, clientId, capabilities) =>
            (Message)new Auth { User = user, OS = os, Arch = arch, ClientId = clientId, Capabilities = capabilities }),
        Gen.Select(Text, Text, TextList, Text.Null(0.5), (clientId, error, capabilities, proxyKey) =>
            (Message)new AuthResp { ClientId = clientId, Error = error, Capabilities = capabilities, ProxyKey = proxyKey }),
        Gen.Select(Text, Text, Text, Gen.Int, Text.Null(0.5), TextList, TextList, (reqId, protocol, subdomain, port, hostHeader, allow, deny) =>
            (Message)new ReqTunnel { ReqId = reqId, Protocol = protocol, Subdomain = subdomain, RemotePort = port, HostHeader = hostHeader, AllowIP = allow, DenyIP = deny }),
        Gen.Select(Text, Text, Text, Text, (reqId, url, protocol, error) =>
            (Message)new NewTunnel { ReqId = reqId, Url = url, Protocol = protocol, Error = error }),
        Gen.Select(Text, Text.Null(0.5), (clientId, proxyKey) => (Message)new RegProxy { ClientId = clientId, ProxyKey = proxyKey }),
        Gen.Select(Text, Text, (url, clientAddr) => (Message)new StartProxy { Url = url, ClientAddr = clientAddr }),
        Gen.Select(Text, url => (Message)new CloseTunnel { Url = url }),
        Gen.OneOf<Message>(new ReqProxy(), new Ping(), new Pong()));

    [Fact]
    public void EveryMessageRoundTrips()
    {
        AnyMessage.Sample(message =>
        {
            var frame = FrameCodec.Encode(message);
            using var stream = new MemoryStream(frame);
            var read = FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            Assert.NotNull(read);
            Assert.Equal(message.GetType(), read.GetType());
            // Records compare lists by reference; the encoded bytes compare every field.
            Assert.Equal(frame, FrameCodec.Encode(read));
            Assert.Equal(-1, stream.ReadByte());
        }, iter: 1000);
    }

    [Fact]
    public void ConcatenatedFramesReadBackInOrder()
    {
        AnyMessage.Array[0, 6].Sample(messages =>
        {
            using var stream = new MemoryStream(messages.SelectMany(FrameCodec.Encode).ToArray());
            foreach (var message in messages)
            {
                var read = FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                Assert.Equal(FrameCodec.Encode(message), FrameCodec.Encode(read!));
            }
            Assert.Null(FrameCodec.ReadAsync(stream, CancellationToken.None).AsTask().GetAwaiter().GetResult());
        }, iter: 200);
    }
}
