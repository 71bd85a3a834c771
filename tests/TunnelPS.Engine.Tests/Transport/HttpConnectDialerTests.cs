using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;

using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

public sealed class HttpConnectDialerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static CancellationTokenSource NewDeadline() => new(Deadline);

    private static async Task<string> RoundTripAsync(Stream stream, string text, CancellationToken cancellationToken)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        await stream.WriteAsync(bytes, cancellationToken);
        var buffer = new byte[bytes.Length];
        await stream.ReadExactlyAsync(buffer, cancellationToken);
        return Encoding.ASCII.GetString(buffer);
    }

    [Fact]
    public async Task Sends_one_CONNECT_with_host_header_and_returns_the_tunnel()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "tunnel.example.com", 4443, Deadline, cts.Token);
        Assert.Equal("ping", await RoundTripAsync(stream, "ping", cts.Token));

        var head = Assert.Single(proxy.Heads);
        Assert.StartsWith("CONNECT tunnel.example.com:4443 HTTP/1.1\r\n", head, StringComparison.Ordinal);
        Assert.Equal("tunnel.example.com:4443", TestProxyConnection.Header(head, "Host"));
        Assert.Null(TestProxyConnection.Header(head, "Proxy-Authorization"));
    }

    [Fact]
    public async Task Sets_TCP_NODELAY_on_the_proxy_socket()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token);
        var network = Assert.IsAssignableFrom<NetworkStream>(stream);
        Assert.True(network.Socket.NoDelay);
    }

    [Fact]
    public async Task Brackets_an_IPv6_target()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "2001:db8::1", 443, Deadline, cts.Token);
        Assert.StartsWith("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n", Assert.Single(proxy.Heads), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sends_Basic_credentials_from_percent_decoded_user_info()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });
        var settings = ProxySettings.Parse($"http://al%40ice:p%3Ass%20w@127.0.0.1:{proxy.Port}");

        await using var stream = await HttpConnectDialer.ConnectAsync(settings, "example.com", 443, Deadline, cts.Token);
        var header = TestProxyConnection.Header(Assert.Single(proxy.Heads), "Proxy-Authorization");
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("al@ice:p:ss w")), header);
    }

    [Fact]
    public async Task Writes_the_CONNECT_request_in_one_write()
    {
        using var cts = NewDeadline();
        var firstRead = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            // Wait until the whole request has surely arrived, then look at what one read returns.
            var buffer = new byte[8192];
            var read = await c.Stream.ReadAsync(buffer, ct);
            firstRead.TrySetResult(Encoding.ASCII.GetString(buffer, 0, read));
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });
        var settings = ProxySettings.Parse(proxy.Url, new NetworkCredential("user", "pass"));

        await using var stream = await HttpConnectDialer.ConnectAsync(settings, "example.com", 443, Deadline, cts.Token);
        var text = await firstRead.Task.WaitAsync(cts.Token);
        Assert.EndsWith("\r\n\r\n", text, StringComparison.Ordinal);
        Assert.Contains("Proxy-Authorization: Basic ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_a_response_head_split_across_many_reads()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteByteByByteAsync("HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\nX-Long: " + new string('a', 200) + "\r\n\r\n", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token);
        Assert.Equal("hello", await RoundTripAsync(stream, "hello", cts.Token));
    }

    [Fact]
    public async Task Returns_bytes_sent_after_the_head_before_socket_bytes()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            // Head and the target's first bytes in one segment, as a proxy relaying a fast server may do.
            await c.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-early\r\n", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 22, Deadline, cts.Token);
        var early = new byte["SSH-2.0-early\r\n".Length];
        await stream.ReadExactlyAsync(early, cts.Token);
        Assert.Equal("SSH-2.0-early\r\n", Encoding.ASCII.GetString(early));
        Assert.Equal("after", await RoundTripAsync(stream, "after", cts.Token));
    }

    [Fact]
    public async Task Carries_a_TLS_session_through_SslStream()
    {
        using var cts = NewDeadline();
        await using var tlsServer = new LoopbackEchoServer(tls: true);
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            using var upstream = new TcpClient { NoDelay = true };
            await upstream.ConnectAsync(IPAddress.Loopback, tlsServer.Port, ct);
            await c.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n", ct);
            await c.RelayAsync(upstream.GetStream(), ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "localhost", tlsServer.Port, Deadline, cts.Token);
        await using var ssl = await tlsServer.AuthenticateClientAsync(stream, cts.Token);
        Assert.Equal("over tls", await RoundTripAsync(ssl, "over tls", cts.Token));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 Connection established\r\n\r\n")]
    [InlineData("HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 201 Created\r\n\r\n")]
    [InlineData("HTTP/1.1 299 Whatever\r\n\r\n")]
    [InlineData("HTTP/1.1 200\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\n\n")]
    public async Task Accepts_any_2xx_status_line(string response)
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync(response, ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token);
        Assert.Equal("x", await RoundTripAsync(stream, "x", cts.Token));
    }

    [Fact]
    public async Task Rejects_a_head_larger_than_16_KiB()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            var head = new StringBuilder("HTTP/1.1 200 OK\r\n");
            while (head.Length < 20_000)
            {
                head.Append("X-Padding: ").Append('p', 100).Append("\r\n");
            }
            await c.WriteAsync(head.Append("\r\n").ToString(), ct);
            await c.ReadHeadAsync(ct); // until the client closes
        });

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Contains("larger than 16384 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains(proxy.Url, ex.Message, StringComparison.Ordinal);
        Assert.Contains("example.com:443", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_403_is_a_connection_error_naming_proxy_target_and_status()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!", ct);
        });

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "blocked.example.com", 4443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Equal(403, ex.StatusCode);
        Assert.Equal($"The proxy {proxy.Url} refused the tunnel: 403 Forbidden (CONNECT blocked.example.com:4443).", ex.Message);
        Assert.Equal(proxy.Url, ex.ProxyAddress);
        Assert.Equal("blocked.example.com", ex.TargetHost);
        Assert.Equal(4443, ex.TargetPort);
    }

    [Fact]
    public async Task A_407_without_credentials_asks_for_them()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n", ct);
        });

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.ProxyAuthentication, ex.Kind);
        Assert.Equal(407, ex.StatusCode);
        Assert.Contains($"The proxy {proxy.Url} requires credentials (407 Proxy Authentication Required)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("example.com:443", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_407_to_Basic_credentials_says_they_were_refused_without_the_password()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n", ct);
        });
        var settings = ProxySettings.Parse($"http://alice:Sup3rSecret@127.0.0.1:{proxy.Port}");

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(settings, "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.ProxyAuthentication, ex.Kind);
        Assert.StartsWith(
            $"The proxy {proxy.Url} refused the credentials (407 Proxy Authentication Required). Check -ProxyCredential or the user info in http_proxy.",
            ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Sup3rSecret", ex.ToString(), StringComparison.Ordinal);
        Assert.Single(proxy.Heads);
    }

    [Fact]
    public async Task The_proxy_closing_before_answering_is_a_connection_error()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 Conn", ct);
            c.Socket.Shutdown(SocketShutdown.Both);
        });

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Contains("closed the connection before answering", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_HTTP_answer_is_a_connection_error()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("SSH-2.0-OpenSSH_9.2\r\n\r\n", ct);
        });

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Contains("not HTTP: \"SSH-2.0-OpenSSH_9.2\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_proxy_is_a_connection_error()
    {
        using var cts = NewDeadline();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse($"127.0.0.1:{port}"), "example.com", 443, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.Connection, ex.Kind);
        Assert.Equal($"The proxy http://127.0.0.1:{port} cannot be reached: connection refused (CONNECT example.com:443).", ex.Message);
        Assert.IsAssignableFrom<SocketException>(ex.InnerException);
    }

    [Fact]
    public async Task A_silent_proxy_times_out_on_the_given_clock()
    {
        using var cts = NewDeadline();
        var requestSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            requestSeen.TrySetResult();
            await c.ReadHeadAsync(ct); // never answers; returns when the client gives up
        });
        var clock = new FakeTimeProvider();

        var dial = HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, TimeSpan.FromSeconds(30), clock, cts.Token);
        await requestSeen.Task.WaitAsync(cts.Token);
        Assert.False(dial.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(30));

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() => dial.WaitAsync(cts.Token));
        Assert.Equal(TunnelErrorKind.Timeout, ex.Kind);
        Assert.Contains("did not complete within 30 s (waiting for the answer to CONNECT)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_cancellation_is_an_OperationCanceledException()
    {
        using var cts = NewDeadline();
        using var caller = new CancellationTokenSource();
        var requestSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            requestSeen.TrySetResult();
            await c.ReadHeadAsync(ct);
        });

        var dial = HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, caller.Token);
        await requestSeen.Task.WaitAsync(cts.Token);
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dial.WaitAsync(cts.Token));
    }

    [Fact]
    public async Task The_tunnel_stream_supports_sync_and_async_reads_after_early_bytes()
    {
        using var cts = NewDeadline();
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\nabcdef", ct);
            await c.EchoAsync(ct);
        });

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(proxy.Url), "example.com", 443, Deadline, cts.Token);
        var two = new byte[2];
        Assert.Equal(2, stream.Read(two, 0, 2));
        Assert.Equal("ab", Encoding.ASCII.GetString(two));
        var rest = new byte[4];
        await stream.ReadExactlyAsync(rest, cts.Token);
        Assert.Equal("cdef", Encoding.ASCII.GetString(rest));
        stream.Write("zz"u8);
        await stream.ReadExactlyAsync(two, cts.Token);
        Assert.Equal("zz", Encoding.ASCII.GetString(two));
    }
}
