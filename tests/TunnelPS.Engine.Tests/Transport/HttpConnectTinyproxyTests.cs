using System.Net;
using System.Text;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>CONNECT through a real tinyproxy (BasicAuth on), started per test by tests/TestSupport/start-tinyproxy.sh.</summary>
public sealed class HttpConnectTinyproxyTests
{
    private const string User = "alice";
    private const string Password = "s3cret.pw";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [TinyproxyFact]
    public async Task Tunnels_TLS_to_a_local_server_and_the_proxy_logs_the_CONNECT()
    {
        using var cts = new CancellationTokenSource(Deadline);
        await using var tlsServer = new LoopbackEchoServer(tls: true);
        using var tinyproxy = await TinyproxyProcess.StartAsync(User, Password, cts.Token);
        var settings = ProxySettings.Parse($"http://{User}:{Password}@127.0.0.1:{tinyproxy.Port}");

        await using (var stream = await HttpConnectDialer.ConnectAsync(settings, "127.0.0.1", tlsServer.Port, Deadline, cts.Token))
        await using (var ssl = await tlsServer.AuthenticateClientAsync(stream, cts.Token))
        {
            var payload = Encoding.ASCII.GetBytes("through tinyproxy");
            await ssl.WriteAsync(payload, cts.Token);
            var echo = new byte[payload.Length];
            await ssl.ReadExactlyAsync(echo, cts.Token);
            Assert.Equal("through tinyproxy", Encoding.ASCII.GetString(echo));
        }

        var log = await tinyproxy.WaitForLogAsync($"CONNECT 127.0.0.1:{tlsServer.Port} HTTP/1.1", cts.Token);
        Assert.Contains($"Established connection to host \"127.0.0.1\"", log, StringComparison.Ordinal);
    }

    [TinyproxyFact]
    public async Task Wrong_credentials_are_a_proxy_authentication_error()
    {
        using var cts = new CancellationTokenSource(Deadline);
        await using var echo = new LoopbackEchoServer(tls: false);
        using var tinyproxy = await TinyproxyProcess.StartAsync(User, Password, cts.Token);
        var settings = ProxySettings.Parse($"127.0.0.1:{tinyproxy.Port}", new NetworkCredential(User, "wrong.pw"));

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(settings, "127.0.0.1", echo.Port, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.ProxyAuthentication, ex.Kind);
        Assert.StartsWith($"The proxy {tinyproxy.Url} refused the credentials (", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Check -ProxyCredential or the user info in http_proxy.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong.pw", ex.Message, StringComparison.Ordinal);
    }

    [TinyproxyFact]
    public async Task Missing_credentials_are_a_proxy_authentication_error()
    {
        using var cts = new CancellationTokenSource(Deadline);
        await using var echo = new LoopbackEchoServer(tls: false);
        using var tinyproxy = await TinyproxyProcess.StartAsync(User, Password, cts.Token);

        var ex = await Assert.ThrowsAsync<ProxyConnectException>(() =>
            HttpConnectDialer.ConnectAsync(ProxySettings.Parse(tinyproxy.Url), "127.0.0.1", echo.Port, Deadline, cts.Token));
        Assert.Equal(TunnelErrorKind.ProxyAuthentication, ex.Kind);
        Assert.Equal(407, ex.StatusCode);
        Assert.Contains("requires credentials (407 Proxy Authentication Required)", ex.Message, StringComparison.Ordinal);
    }

    [TinyproxyFact]
    public async Task Plain_TCP_through_a_proxy_without_auth()
    {
        using var cts = new CancellationTokenSource(Deadline);
        await using var echo = new LoopbackEchoServer(tls: false);
        using var tinyproxy = await TinyproxyProcess.StartAsync(null, null, cts.Token);

        await using var stream = await HttpConnectDialer.ConnectAsync(ProxySettings.Parse(tinyproxy.Url), "127.0.0.1", echo.Port, Deadline, cts.Token);
        await stream.WriteAsync("tcp"u8.ToArray(), cts.Token);
        var buffer = new byte[3];
        await stream.ReadExactlyAsync(buffer, cts.Token);
        Assert.Equal("tcp", Encoding.ASCII.GetString(buffer));
    }
}
