using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Text;
using TunnelPS.Engine.Transport;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>The 407 → NTLM handshake against a scripted proxy that checks the message types and issues a challenge.</summary>
public sealed class HttpConnectNtlmTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>Whether this platform can produce an NTLM negotiate message (Linux needs a GSSAPI NTLM provider).</summary>
    private static bool PlatformHasNtlm()
    {
        try
        {
            using var auth = new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
            {
                Package = "NTLM",
                Credential = new NetworkCredential("u", "p", "D"),
                TargetName = "HTTP/proxy",
            });
            auth.GetOutgoingBlob((string?)null, out var status);
            return status == NegotiateAuthenticationStatusCode.ContinueNeeded;
        }
        catch (PlatformNotSupportedException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_407_offering_NTLM_runs_the_handshake_on_one_connection_or_fails_clearly()
    {
        using var cts = new CancellationTokenSource(Deadline);
        var messageTypes = new List<int>();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            var head = await c.ReadHeadAsync(ct);
            Assert.StartsWith("Basic ", TestProxyConnection.Header(head!, "Proxy-Authorization"), StringComparison.Ordinal);
            await c.WriteAsync(
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n" +
                "Content-Length: 10\r\n\r\n0123456789", ct);

            head = await c.ReadHeadAsync(ct);
            if (head is null)
            {
                return; // the platform could not do NTLM and gave up
            }
            messageTypes.Add(NtlmMessageType(TestProxyConnection.Header(head, "Proxy-Authorization")!));
            await c.WriteAsync(
                $"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM {Convert.ToBase64String(ChallengeMessage())}\r\n" +
                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ct);

            head = await c.ReadHeadAsync(ct);
            messageTypes.Add(NtlmMessageType(TestProxyConnection.Header(head!, "Proxy-Authorization")!));
            await c.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });
        var settings = ProxySettings.Parse(proxy.Url, new NetworkCredential("alice", "Secret1!", "CORP"));

        var hasNtlm = PlatformHasNtlm();
        output.WriteLine(hasNtlm
            ? "This platform has an NTLM provider: asserting the full handshake."
            : "This platform has no NTLM provider (Linux: install gss-ntlmssp): asserting the clear failure.");
        if (!hasNtlm)
        {
            var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
                HttpConnectDialer.ConnectAsync(settings, "example.com", 443, Deadline, cts.Token));
            Assert.Equal(TunnelErrorKind.ProxyAuthentication, ex.Kind);
            Assert.Contains("asks for NTLM authentication, which this platform cannot perform", ex.Message, StringComparison.Ordinal);
            return;
        }

        await using var stream = await HttpConnectDialer.ConnectAsync(settings, "example.com", 443, Deadline, cts.Token);
        await stream.WriteAsync("ntlm"u8.ToArray(), cts.Token);
        var echo = new byte[4];
        await stream.ReadExactlyAsync(echo, cts.Token);
        Assert.Equal("ntlm", Encoding.ASCII.GetString(echo));
        Assert.Equal([1, 3], messageTypes);
        Assert.Equal(1, proxy.Accepted);
    }

    private static int NtlmMessageType(string authorization)
    {
        Assert.StartsWith("NTLM ", authorization, StringComparison.Ordinal);
        var bytes = Convert.FromBase64String(authorization[5..]);
        Assert.Equal("NTLMSSP\0", Encoding.ASCII.GetString(bytes, 0, 8));
        return BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
    }

    /// <summary>A minimal NTLM CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) with target info, as a Windows proxy sends.</summary>
    private static byte[] ChallengeMessage()
    {
        var targetName = Encoding.Unicode.GetBytes("CORP");
        var info = new List<byte>();
        void Av(ushort id, byte[] value)
        {
            var header = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(header, id);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), (ushort)value.Length);
            info.AddRange(header);
            info.AddRange(value);
        }
        Av(2, Encoding.Unicode.GetBytes("CORP"));
        Av(1, Encoding.Unicode.GetBytes("PROXY"));
        Av(4, Encoding.Unicode.GetBytes("corp.example"));
        Av(3, Encoding.Unicode.GetBytes("proxy.corp.example"));
        var timestamp = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(timestamp, DateTime.UtcNow.ToFileTimeUtc());
        Av(7, timestamp);
        Av(0, []);

        const int headerLength = 56;
        var message = new byte[headerLength + targetName.Length + info.Count];
        Encoding.ASCII.GetBytes("NTLMSSP\0").CopyTo(message, 0);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(12), (ushort)targetName.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(14), (ushort)targetName.Length);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(16), headerLength);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(20), 0xE28A8235);
        Random.Shared.NextBytes(message.AsSpan(24, 8));
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(40), (ushort)info.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(42), (ushort)info.Count);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(44), headerLength + targetName.Length);
        message[48] = 10; // version 10.0 build 17763, NTLM revision 15
        message[49] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(50), 17763);
        message[55] = 15;
        targetName.CopyTo(message, headerLength);
        info.CopyTo(message, headerLength + targetName.Length);
        return message;
    }
}
