using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>
/// The connectivity probe against real servers on loopback: every step passes against a good server, and each kind of
/// trouble (nothing listening, a wrong pin, a wrong token, a server that says nothing or sends a huge frame) fails the
/// right step, with a hint, and skips the ones after it; a silent server fails at the step's deadline (a fake clock).
/// </summary>
public sealed class ConnectivityProbeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnelps-probe-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task<IReadOnlyList<ConnectivityStep>> ProbeAsync(ConnectivityProbeOptions options)
    {
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        return await ConnectivityProbe.RunAsync(options, null, deadline.Token);
    }

    private static ConnectivityStep Step(IEnumerable<ConnectivityStep> steps, ConnectivityStepKind kind) => Assert.Single(steps, s => s.Kind == kind);

    private static int DeadPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Against_a_real_server_every_step_passes_and_says_what_it_found()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        var reported = new List<ConnectivityStepKind>();

        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var steps = await ConnectivityProbe.RunAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", server.Port)],
            Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
        }, step => reported.Add(step.Kind), deadline.Token);

        Assert.Equal(Enum.GetValues<ConnectivityStepKind>(), steps.Select(s => s.Kind));
        Assert.Equal(steps.Select(s => s.Kind), reported);
        Assert.All(steps, s => Assert.Equal($"127.0.0.1:{server.Port}", s.Server));
        Assert.All(steps.Where(s => s.Kind != ConnectivityStepKind.ProxyConnect), s => Assert.Equal(ConnectivityStepStatus.Passed, s.Status));
        Assert.Equal(ConnectivityStepStatus.Skipped, Step(steps, ConnectivityStepKind.ProxyConnect).Status);
        Assert.Equal(["127.0.0.1"], Step(steps, ConnectivityStepKind.Resolve).Addresses);
        var tls = Step(steps, ConnectivityStepKind.Tls);
        Assert.Equal(ServerCertificateTrust.Pinned, tls.CertificateTrust);
        Assert.Equal(server.CertificateThumbprint, tls.CertificateThumbprint, StringComparer.OrdinalIgnoreCase);
        Assert.NotNull(tls.Certificate);
        Assert.StartsWith("TLS 1.", tls.TlsProtocol, StringComparison.Ordinal);
        Assert.Contains("pinned", tls.Detail, StringComparison.Ordinal);
        var protocol = Step(steps, ConnectivityStepKind.Protocol);
        Assert.Equal("2", protocol.ServerVersion);
        Assert.Contains("tunnelps/1", protocol.ServerCapabilities!);
        Assert.Contains("anonymous", Step(steps, ConnectivityStepKind.Auth).Detail, StringComparison.Ordinal);
        Assert.True(Step(steps, ConnectivityStepKind.Latency).LatencyMilliseconds >= 0);
        Assert.All(steps.Where(s => s.Status == ConnectivityStepStatus.Passed), s => Assert.Null(s.Hint));
    }

    [Fact]
    public async Task A_server_the_user_started_elsewhere_is_trusted_through_the_local_CA_and_the_step_says_so()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { Certificate = null, CertificateFolder = _folder });

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("localhost", server.Port)],
            Trust = new ServerTrust { LocalAuthorityFolder = _folder },
        });

        var tls = Step(steps, ConnectivityStepKind.Tls);
        Assert.Equal(ConnectivityStepStatus.Passed, tls.Status);
        Assert.Equal(ServerCertificateTrust.LocalAuthority, tls.CertificateTrust);
        Assert.Contains("local CA", tls.Detail, StringComparison.Ordinal);
        Assert.Contains("expires", tls.Detail, StringComparison.Ordinal);
        Assert.Equal(ConnectivityStepStatus.Passed, Step(steps, ConnectivityStepKind.Latency).Status);
    }

    [Fact]
    public async Task A_dead_port_fails_Connect_with_a_hint_and_skips_every_later_step()
    {
        var port = DeadPort();

        var steps = await ProbeAsync(new ConnectivityProbeOptions { Servers = [new ServerAddress("127.0.0.1", port)] });

        Assert.Equal(ConnectivityStepStatus.Passed, Step(steps, ConnectivityStepKind.Resolve).Status);
        var connect = Step(steps, ConnectivityStepKind.Connect);
        Assert.Equal(ConnectivityStepStatus.Failed, connect.Status);
        Assert.Contains("connection refused", connect.Detail, StringComparison.Ordinal);
        Assert.Contains($"Nothing listens on 127.0.0.1:{port}", connect.Hint, StringComparison.Ordinal);
        Assert.All(steps.SkipWhile(s => s.Kind != ConnectivityStepKind.Connect).Skip(1), s =>
        {
            Assert.Equal(ConnectivityStepStatus.Skipped, s.Status);
            Assert.Contains("the Connect step failed", s.Hint, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_wrong_pin_fails_Tls_and_shows_the_servers_actual_thumbprint()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        var wrong = new string('a', 64);

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", server.Port)],
            Trust = new ServerTrust { PinnedThumbprint = wrong },
        });

        var tls = Step(steps, ConnectivityStepKind.Tls);
        Assert.Equal(ConnectivityStepStatus.Failed, tls.Status);
        Assert.Equal(ServerCertificateTrust.None, tls.CertificateTrust);
        Assert.Equal(server.CertificateThumbprint, tls.CertificateThumbprint, StringComparer.OrdinalIgnoreCase);
        Assert.NotNull(tls.Certificate);
        Assert.Contains("does not match the pinned thumbprint " + wrong, tls.Detail, StringComparison.Ordinal);
        Assert.Contains("-ServerCertificateThumbprint " + tls.CertificateThumbprint, tls.Hint, StringComparison.Ordinal);
        Assert.Equal(ConnectivityStepStatus.Skipped, Step(steps, ConnectivityStepKind.Protocol).Status);
    }

    [Fact]
    public async Task A_wrong_token_fails_Auth_with_the_servers_reason_while_Protocol_passes()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = ["right-token"] });

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", server.Port)],
            Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
            AuthToken = "wrong-token",
            AuthTokenSource = "-AuthToken",
        });

        Assert.Equal(ConnectivityStepStatus.Passed, Step(steps, ConnectivityStepKind.Protocol).Status);
        var auth = Step(steps, ConnectivityStepKind.Auth);
        Assert.Equal(ConnectivityStepStatus.Failed, auth.Status);
        Assert.Contains("refused the token (from -AuthToken)", auth.Detail, StringComparison.Ordinal);
        Assert.Contains("auth token was refused", auth.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", auth.Detail, StringComparison.Ordinal);
        Assert.Contains("Set-TunnelAuthToken", auth.Hint, StringComparison.Ordinal);
        Assert.Equal(ConnectivityStepStatus.Skipped, Step(steps, ConnectivityStepKind.Latency).Status);

        var right = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", server.Port)],
            Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
            AuthToken = "right-token",
        });
        Assert.DoesNotContain(right, s => s.Status == ConnectivityStepStatus.Failed);
        Assert.Equal("token accepted", Step(right, ConnectivityStepKind.Auth).Detail);
    }

    [Fact]
    public async Task Each_of_several_server_addresses_gets_its_own_steps()
    {
        await using var server = await TunnelHarness.StartServerAsync();
        var dead = DeadPort();

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", dead), new ServerAddress("127.0.0.1", server.Port)],
            Trust = new ServerTrust { PinnedThumbprint = server.CertificateThumbprint },
        });

        Assert.Equal(2 * Enum.GetValues<ConnectivityStepKind>().Length, steps.Count);
        Assert.Equal(ConnectivityStepStatus.Failed, Assert.Single(steps, s => s.Server == $"127.0.0.1:{dead}" && s.Kind == ConnectivityStepKind.Connect).Status);
        Assert.DoesNotContain(steps, s => s.Server == $"127.0.0.1:{server.Port}" && s.Status == ConnectivityStepStatus.Failed);
    }

    [Fact]
    public async Task A_server_that_never_answers_the_login_fails_Protocol_at_the_steps_deadline()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var silent = new SilentTlsServer(null);
        var tlsDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var probe = ConnectivityProbe.RunAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", silent.Port)],
            Trust = new ServerTrust { SkipCertificateCheck = true },
            StepTimeout = TimeSpan.FromSeconds(7),
            TimeProvider = time,
        }, step =>
        {
            if (step.Kind == ConnectivityStepKind.Tls)
            {
                tlsDone.TrySetResult();
            }
        }, deadline.Token);
        await tlsDone.Task.WaitAsync(deadline.Token);
        await silent.LoginReceived.WaitAsync(deadline.Token);
        Assert.False(probe.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(7));
        var steps = await probe.WaitAsync(deadline.Token);

        var protocol = Step(steps, ConnectivityStepKind.Protocol);
        Assert.Equal(ConnectivityStepStatus.Failed, protocol.Status);
        Assert.Equal("no answer within 7 s", protocol.Detail);
        Assert.Contains("did not answer the login within 7 s", protocol.Hint, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(7), protocol.Duration);
        Assert.Equal(ConnectivityStepStatus.Skipped, Step(steps, ConnectivityStepKind.Auth).Status);
    }

    [Fact]
    public async Task A_server_that_announces_a_huge_frame_fails_Protocol_without_reading_it()
    {
        await using var hostile = new SilentTlsServer(long.MaxValue / 2);

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("127.0.0.1", hostile.Port)],
            Trust = new ServerTrust { SkipCertificateCheck = true },
        });

        var protocol = Step(steps, ConnectivityStepKind.Protocol);
        Assert.Equal(ConnectivityStepStatus.Failed, protocol.Status);
        Assert.Contains("frame", protocol.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not the tunnel protocol", protocol.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proxys_answer_is_shown_with_its_control_characters_made_visible()
    {
        await using var proxy = new HttpConnectTestProxy(async (c, ct) =>
        {
            await c.ReadHeadAsync(ct);
            await c.WriteAsync("HTTP/1.1 407 \u001b[2J\u001b]0;owned\u0007Denied\r\nProxy-Authenticate: Basic\u001b[31m realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ct);
        });

        var steps = await ProbeAsync(new ConnectivityProbeOptions
        {
            Servers = [new ServerAddress("tunnel.example.test", 443)],
            Proxy = ProxySettings.Parse(proxy.Url) with { Source = "-Proxy" },
        });

        var connect = Step(steps, ConnectivityStepKind.ProxyConnect);
        Assert.Equal(ConnectivityStepStatus.Failed, connect.Status);
        Assert.Equal(407, connect.ProxyStatusCode);
        Assert.True(Step(steps, ConnectivityStepKind.Connect).ViaProxy);
        Assert.Contains("the proxy resolves tunnel.example.test", Step(steps, ConnectivityStepKind.Resolve).Detail, StringComparison.Ordinal);
        foreach (var text in new[] { connect.Detail, connect.Hint!, connect.ProxyStatusLine!, string.Join(",", connect.ProxyAuthSchemes!) })
        {
            Assert.DoesNotContain('\u001b', text);
            Assert.DoesNotContain('\u0007', text);
        }
        Assert.Contains("HTTP/1.1 407 \u241b[2J", connect.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// A TLS listener that takes one connection, reads the login and then says nothing, or announces a frame of the
    /// given length (and sends none of it).
    /// </summary>
    private sealed class SilentTlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _login = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _run;

        public SilentTlsServer(long? announcedLength)
        {
            _listener.Start();
            _run = RunAsync(announcedLength);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Task LoginReceived => _login.Task;

        private async Task RunAsync(long? announcedLength)
        {
            using var socket = await _listener.AcceptSocketAsync(_stop.Token);
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TunnelHarness.Certificate }, _stop.Token);
            var buffer = new byte[4096];
            _ = await ssl.ReadAsync(buffer, _stop.Token);
            _login.TrySetResult();
            if (announcedLength is { } length)
            {
                var header = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(header, length);
                await ssl.WriteAsync(header, _stop.Token);
                await ssl.FlushAsync(_stop.Token);
            }
            await Task.Delay(Timeout.Infinite, _stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _run;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
                // Stopped while waiting: the end of the scripted conversation.
            }
            _stop.Dispose();
        }
    }
}
