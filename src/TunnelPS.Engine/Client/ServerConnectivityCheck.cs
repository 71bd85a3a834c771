using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>The steps of <see cref="ConnectivityProbe"/> against one server address; owns the connection it builds.</summary>
internal sealed class ServerConnectivityCheck(ConnectivityProbeOptions options, ServerAddress server, Action<ConnectivityStep> report) : IAsyncDisposable
{
    private readonly TimeProvider _time = options.TimeProvider;
    private readonly bool _viaProxy = options.Proxy is { } proxy && !proxy.ShouldBypass(server.Host, server.Port);
    private IPAddress[] _addresses = [];
    private Socket? _socket;
    private Stream? _transport;
    private SslStream? _ssl;
    private AuthResp? _login;

    /// <summary>The host the client itself connects to: the proxy's when one is used.</summary>
    private string ConnectHost => _viaProxy ? options.Proxy!.Address.IdnHost : server.Host;

    private int ConnectPort => _viaProxy ? options.Proxy!.Address.Port : server.Port;

    private string Seconds => options.StepTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        ConnectivityStepKind? failed = null;
        foreach (var kind in Enum.GetValues<ConnectivityStepKind>())
        {
            if (failed is { } before)
            {
                report(new ConnectivityStep
                {
                    Server = server.ToString(),
                    Kind = kind,
                    Status = ConnectivityStepStatus.Skipped,
                    Detail = $"not tried: {before} failed",
                    Hint = $"Skipped because the {before} step failed; fix that first.",
                    ViaProxy = _viaProxy,
                });
                continue;
            }
            var step = await RunStepAsync(kind, cancellationToken).ConfigureAwait(false);
            report(step);
            if (step.Status == ConnectivityStepStatus.Failed)
            {
                failed = kind;
            }
        }
    }

    private async Task<ConnectivityStep> RunStepAsync(ConnectivityStepKind kind, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(options.StepTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        ConnectivityStep step;
        try
        {
            step = kind switch
            {
                ConnectivityStepKind.Resolve => await ResolveAsync(linked.Token).ConfigureAwait(false),
                ConnectivityStepKind.Connect => await ConnectAsync(linked.Token).ConfigureAwait(false),
                ConnectivityStepKind.ProxyConnect => await ProxyConnectAsync(linked.Token, cancellationToken).ConfigureAwait(false),
                ConnectivityStepKind.Tls => await TlsAsync(linked.Token, cancellationToken).ConfigureAwait(false),
                ConnectivityStepKind.Protocol => await LoginAsync(linked.Token).ConfigureAwait(false),
                ConnectivityStepKind.Auth => Auth(),
                _ => await LatencyAsync(linked.Token).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            step = Failed($"no answer within {Seconds} s", TimeoutHint(kind));
        }
        catch (Exception ex) when (ex is IOException or SocketException or ProtocolException or TunnelException or AuthenticationException or ObjectDisposedException)
        {
            step = Failed(MessageText.Clause(TerminalText.Line(ex.Message)), FailureHint(kind, ex));
        }
        return step with
        {
            Server = server.ToString(),
            Kind = kind,
            Duration = _time.GetElapsedTime(started),
            ViaProxy = _viaProxy,
        };
    }

    private static ConnectivityStep Passed(string detail) => new() { Status = ConnectivityStepStatus.Passed, Detail = detail };

    private static ConnectivityStep Failed(string detail, string hint) => new() { Status = ConnectivityStepStatus.Failed, Detail = detail, Hint = hint };

    private string Target => _viaProxy ? $"the proxy {options.Proxy!.DisplayAddress}" : $"the server {server}";

    private string AddressHint => _viaProxy
        ? $"Check the proxy address ({options.Proxy!.Source ?? "the proxy setting"}) and that the proxy runs."
        : "Check -ServerAddress (or server_addr in the config file) and that the server runs (Start-TunnelServer where it should).";

    private string TimeoutHint(ConnectivityStepKind kind) => kind switch
    {
        ConnectivityStepKind.Resolve => $"The name server did not answer within {Seconds} s: check your DNS settings and network, or raise -Timeout.",
        ConnectivityStepKind.Connect => $"{Target} did not accept within {Seconds} s: a firewall may drop the packets. {AddressHint} If your network lets you out only through a proxy, set -Proxy.",
        ConnectivityStepKind.ProxyConnect => $"The proxy did not answer CONNECT within {Seconds} s: it may not reach {server}. Ask the proxy's admin, or raise -Timeout.",
        ConnectivityStepKind.Tls => $"No TLS handshake within {Seconds} s: is {server} a TunnelPS or ngrok server port (not its HTTP port)?",
        ConnectivityStepKind.Protocol => $"The server did not answer the login within {Seconds} s: is {server} a TunnelPS or ngrok 1.x server port?",
        _ => $"The server did not answer a Ping within {Seconds} s: it is overloaded or something between drops the connection; raise -Timeout to wait longer.",
    };

    private string FailureHint(ConnectivityStepKind kind, Exception ex) => kind switch
    {
        ConnectivityStepKind.Protocol when ex is ProtocolException => $"The server sent something that is not the tunnel protocol: is {server} a TunnelPS or ngrok 1.x server port?",
        ConnectivityStepKind.Tls => $"Something answered, but not with a TLS handshake a tunnel server makes: is {server} a TunnelPS or ngrok server port (not its HTTP port)?",
        ConnectivityStepKind.Latency => "The server closed or broke the control connection after the login: look at the server's log (Start-TunnelServer -Wait shows refusals).",
        _ => $"The connection to {server} broke: try again, and look at the server's log if it keeps failing.",
    };

    private async Task<ConnectivityStep> ResolveAsync(CancellationToken token)
    {
        var host = ConnectHost;
        var what = _viaProxy ? $"the proxy's name '{host}'" : $"the server's name '{host}'";
        var proxyNote = _viaProxy ? $" (the proxy; the proxy resolves {server.Host})" : "";
        if (IPAddress.TryParse(host, out var literal))
        {
            _addresses = [literal];
            return Passed($"{host} (an IP address: nothing to resolve){proxyNote}") with { Addresses = [literal.ToString()] };
        }
        try
        {
            _addresses = await Dns.GetHostAddressesAsync(host, token).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            return Failed($"{what} does not resolve: {ex.SocketErrorCode}",
                _viaProxy
                    ? $"Check the spelling of the proxy address ({options.Proxy!.Source ?? "the proxy setting"}) and your DNS settings."
                    : $"Check the spelling of '{host}' in -ServerAddress (or server_addr in the config file) and your DNS settings.");
        }
        if (_addresses.Length == 0)
        {
            return Failed($"{what} resolves to no address", "Check the name's DNS records, or use the server's IP address.");
        }
        var shown = string.Join(", ", _addresses.Take(4).Select(a => a.ToString()));
        var more = _addresses.Length > 4 ? ", …" : "";
        var count = _addresses.Length == 1 ? "1 address" : string.Create(CultureInfo.InvariantCulture, $"{_addresses.Length} addresses");
        return Passed($"{host} → {shown}{more} ({count}){proxyNote}") with { Addresses = [.. _addresses.Select(a => a.ToString())] };
    }

    private async Task<ConnectivityStep> ConnectAsync(CancellationToken token)
    {
        SocketException? last = null;
        foreach (var address in _addresses)
        {
            var endPoint = new IPEndPoint(address, ConnectPort);
            try
            {
                _socket = await TunnelDialer.ConnectSocketAsync(endPoint, token).ConfigureAwait(false);
                var to = _viaProxy ? $" (the proxy {options.Proxy!.DisplayAddress})" : "";
                return Passed($"connected to {endPoint}{to}") with { RemoteEndPoint = endPoint.ToString() };
            }
            catch (SocketException ex)
            {
                last = ex;
            }
        }
        var failedAt = _addresses.Length == 1 ? new IPEndPoint(_addresses[0], ConnectPort).ToString() : $"{_addresses.Length} addresses, port {ConnectPort}";
        var code = last!.SocketErrorCode;
        var hint = code switch
        {
            SocketError.ConnectionRefused => $"Nothing listens on {ConnectHost}:{ConnectPort}. {AddressHint}",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"There is no route to {ConnectHost}: check your network. If it lets you out only through a proxy, set -Proxy.",
            SocketError.TimedOut => $"{Target} did not accept: a firewall may drop the packets. {AddressHint}",
            _ => AddressHint,
        };
        var reason = code switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
            SocketError.TimedOut => "timed out",
            _ => MessageText.Clause(last.Message),
        };
        return Failed($"{reason} ({failedAt})", hint);
    }

    private async Task<ConnectivityStep> ProxyConnectAsync(CancellationToken token, CancellationToken cancellationToken)
    {
        if (options.Proxy is null)
        {
            _transport = new BatchingNetworkStream(TakeSocket());
            return new ConnectivityStep { Status = ConnectivityStepStatus.Skipped, Detail = "no proxy: a direct connection" };
        }
        if (!_viaProxy)
        {
            _transport = new BatchingNetworkStream(TakeSocket());
            return new ConnectivityStep { Status = ConnectivityStepStatus.Skipped, Detail = $"the proxy is bypassed for {server.Host} (NO_PROXY)" };
        }
        var trace = new HttpConnectTrace();
        try
        {
            _transport = await HttpConnectDialer.ConnectAsync(options.Proxy, TakeSocket(), server.Host, server.Port, options.StepTimeout, _time, trace, token).ConfigureAwait(false);
        }
        catch (ProxyConnectException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed($"{Shown(trace.StatusLine) ?? "no answer"}{Schemes(trace)}", ProxyHint(ex, trace)) with
            {
                ProxyStatusCode = trace.StatusCode,
                ProxyStatusLine = Shown(trace.StatusLine),
                ProxyAuthSchemes = [.. trace.OfferedSchemes.Select(scheme => Shown(scheme) ?? "")],
                ProxyAuthScheme = trace.UsedScheme,
            };
        }
        return Passed($"{Shown(trace.StatusLine)}{Schemes(trace)}") with
        {
            ProxyStatusCode = trace.StatusCode,
            ProxyStatusLine = Shown(trace.StatusLine),
            ProxyAuthSchemes = [.. trace.OfferedSchemes.Select(scheme => Shown(scheme) ?? "")],
            ProxyAuthScheme = trace.UsedScheme,
        };
    }

    private static string Schemes(HttpConnectTrace trace)
    {
        var offered = trace.OfferedSchemes.Count > 0 ? ", offers: " + string.Join(", ", trace.OfferedSchemes.Select(scheme => Shown(scheme))) : "";
        return $"{offered}, auth: {trace.UsedScheme ?? "none"}";
    }

    /// <summary>Text a proxy or server sent, with its control characters made visible (it may be hostile).</summary>
    private static string? Shown(string? text) => TerminalText.Line(text);

    private string ProxyHint(ProxyConnectException ex, HttpConnectTrace trace)
    {
        var source = options.Proxy!.Source is { } s ? $" (the proxy setting comes from {s})" : "";
        if (ex.Kind == TunnelErrorKind.ProxyAuthentication)
        {
            var offered = trace.OfferedSchemes.Count > 0 ? string.Join(" or ", trace.OfferedSchemes.Select(scheme => Shown(scheme))) : "credentials";
            return trace.UsedScheme is null
                ? $"The proxy wants {offered}: give -ProxyCredential, or put user info in the proxy URL (http://user:password@host:port){source}."
                : $"The proxy refused the credentials: check the user name and password of -ProxyCredential (or the proxy URL's user info){source}.";
        }
        if (ex.Kind == TunnelErrorKind.Timeout)
        {
            return TimeoutHint(ConnectivityStepKind.ProxyConnect);
        }
        return trace.StatusCode is { } status
            ? string.Create(CultureInfo.InvariantCulture, $"The proxy answered {status} to CONNECT {server}: it may not allow tunnels to port {server.Port} or reach that host; ask its admin{source}.")
            : $"{MessageText.Clause(TerminalText.Line(ex.Message))}.";
    }

    private async Task<ConnectivityStep> TlsAsync(CancellationToken token, CancellationToken cancellationToken)
    {
        var check = new ServerCertificateCheck(options.Trust, keepCertificate: true);
        ConnectivityStep? step = null;
        try
        {
            step = await TlsCoreAsync(check, token, cancellationToken).ConfigureAwait(false);
            return step;
        }
        finally
        {
            // The certificate goes to the caller on the step; on every other path it is released here.
            if (!ReferenceEquals(step?.Certificate, check.Certificate))
            {
                check.Certificate?.Dispose();
            }
        }
    }

    private async Task<ConnectivityStep> TlsCoreAsync(ServerCertificateCheck check, CancellationToken token, CancellationToken cancellationToken)
    {
        var transport = _transport!;
        _transport = null;
        try
        {
            _ssl = await TunnelDialer.HandshakeAsync(transport, server, check, options.StepTimeout, inlineCompletions: false, token, cancellationToken).ConfigureAwait(false);
        }
        catch (TunnelConnectionException ex) when (check.Certificate is { } refused && check.Outcome == ServerCertificateTrust.None && ex.Kind == TunnelErrorKind.Authentication)
        {
            return Failed($"{Describe(refused)}, thumbprint {check.Thumbprint}: {check.RefusalReason}", check.RefusalAdvice) with
            {
                Certificate = refused,
                CertificateThumbprint = check.Thumbprint,
                CertificateTrust = ServerCertificateTrust.None,
            };
        }
        catch (TunnelConnectionException ex) when (ex.Kind == TunnelErrorKind.Timeout)
        {
            return Failed($"no handshake within {Seconds} s", TimeoutHint(ConnectivityStepKind.Tls));
        }
        var certificate = check.Certificate!;
        var trust = check.Outcome switch
        {
            ServerCertificateTrust.System => "trusted by the system",
            ServerCertificateTrust.Pinned => "pinned (-ServerCertificateThumbprint or this session's server)",
            ServerCertificateTrust.LocalAuthority => "trusted by your local CA (a server you started on this computer)",
            _ => "not checked (-SkipCertificateCheck)",
        };
        var protocol = TlsName(_ssl.SslProtocol);
        return Passed($"{protocol}, {Describe(certificate)}, {trust}") with
        {
            TlsProtocol = protocol,
            CipherSuite = _ssl.NegotiatedCipherSuite.ToString(),
            Certificate = certificate,
            CertificateThumbprint = check.Thumbprint,
            CertificateTrust = check.Outcome,
        };
    }

    /// <summary>The certificate in a few words; its names come from the server and are shown with controls made visible.</summary>
    private static string Describe(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
        string.Create(CultureInfo.InvariantCulture, $"{Shown(certificate.Subject)}, issuer {Shown(certificate.Issuer)}, expires {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}");

    private static string TlsName(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => "TLS 1.3",
        SslProtocols.Tls12 => "TLS 1.2",
        _ => protocol.ToString(),
    };

    private async Task<ConnectivityStep> LoginAsync(CancellationToken token)
    {
        await FrameCodec.WriteAsync(_ssl!, new Auth
        {
            User = options.AuthToken,
            OS = OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : OperatingSystem.IsLinux() ? "linux" : RuntimeInformation.OSDescription,
            Arch = RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability, ProtocolVersion.MuxCapability],
        }, token).ConfigureAwait(false);
        var answer = await FrameCodec.ReadAsync(_ssl!, token).ConfigureAwait(false);
        if (answer is not AuthResp login)
        {
            return Failed(
                answer is null ? "the server closed the connection without answering the login" : $"the server answered the login with {answer.Type}, not AuthResp",
                $"Is {server} a TunnelPS or ngrok 1.x server port? Look at the server's log for why it closed the connection.");
        }
        _login = login;
        var capabilities = login.Capabilities ?? [];
        var kind = capabilities.Contains(ProtocolVersion.TunnelPSCapability) ? "a TunnelPS server" : "an ngrok 1.x server (no TunnelPS extensions)";
        var mux = capabilities.Contains(ProtocolVersion.MuxCapability) ? ", multiplexed links" : "";
        var version = TerminalText.Line(login.Version) ?? "";
        return Passed($"protocol {version}, {kind}{mux}") with { ServerVersion = version, ServerCapabilities = [.. capabilities.Select(c => TerminalText.Line(c) ?? "")] };
    }

    private ConnectivityStep Auth()
    {
        var hasToken = !string.IsNullOrEmpty(options.AuthToken);
        var source = options.AuthTokenSource is { } s ? $" (from {s})" : "";
        if (string.IsNullOrEmpty(_login!.Error))
        {
            return Passed(hasToken ? $"token accepted{source}" : "no token sent: the server allows anonymous logins");
        }
        var reason = TerminalText.Line(_login.Error.Length > 300 ? _login.Error[..300] + "…" : _login.Error);
        return hasToken
            ? Failed($"the server refused the token{source}: {reason}",
                "Check the token: give the right one with -AuthToken, or save it with Set-TunnelAuthToken (the server's admin has it).")
            : Failed($"no token sent; the server refused: {reason}",
                "The server needs a token: give it with -AuthToken, or save it once with Set-TunnelAuthToken.");
    }

    private async Task<ConnectivityStep> LatencyAsync(CancellationToken token)
    {
        var samples = new double[options.LatencySamples];
        for (var i = 0; i < samples.Length; i++)
        {
            var sent = _time.GetTimestamp();
            await FrameCodec.WriteAsync(_ssl!, new Ping(), token).ConfigureAwait(false);
            for (var frames = 0; ; frames++)
            {
                if (frames == ConnectivityProbeOptions.MaxFramesPerPong)
                {
                    return Failed(string.Create(CultureInfo.InvariantCulture, $"no Pong among the first {frames} messages after a Ping"),
                        $"The server does not answer Ping as a tunnel server does: is {server} a TunnelPS or ngrok 1.x server?");
                }
                var message = await FrameCodec.ReadAsync(_ssl!, token).ConfigureAwait(false);
                if (message is null)
                {
                    return Failed("the server closed the control connection", FailureHint(ConnectivityStepKind.Latency, new IOException()));
                }
                if (message is Pong)
                {
                    break;
                }
            }
            samples[i] = _time.GetElapsedTime(sent).TotalMilliseconds;
        }
        Array.Sort(samples);
        var median = samples.Length % 2 == 1 ? samples[samples.Length / 2] : (samples[(samples.Length / 2) - 1] + samples[samples.Length / 2]) / 2;
        var range = samples.Length > 1 ? string.Create(CultureInfo.InvariantCulture, $" ({samples[0]:0.0}–{samples[^1]:0.0} ms)") : "";
        var trips = samples.Length == 1 ? "1 round trip" : string.Create(CultureInfo.InvariantCulture, $"{samples.Length} round trips");
        return Passed(string.Create(CultureInfo.InvariantCulture, $"median {median:0.0} ms over {trips}{range}")) with { LatencyMilliseconds = median };
    }

    private Socket TakeSocket()
    {
        var socket = _socket!;
        _socket = null;
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        _socket?.Dispose();
        if (_transport is not null)
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
        if (_ssl is not null)
        {
            await _ssl.DisposeAsync().ConfigureAwait(false);
        }
    }
}
