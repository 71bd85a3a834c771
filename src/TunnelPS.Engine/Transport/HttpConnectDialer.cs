using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Opens a TCP tunnel to a target through an HTTP proxy with <c>CONNECT host:port HTTP/1.1</c>. The tunnel client
/// dials its control connection and every pooled proxy connection through this when a proxy is set, then runs TLS
/// inside the returned stream.
/// </summary>
internal static class HttpConnectDialer
{
    /// <summary>The largest response head accepted from a proxy.</summary>
    public const int MaxResponseHeadLength = 16 * 1024;

    /// <summary>The largest 407 body read and discarded to keep the connection for an NTLM/Negotiate round.</summary>
    private const int MaxDrainedBodyLength = 1024 * 1024;

    /// <summary>The most NTLM/Negotiate rounds before giving up.</summary>
    private const int MaxAuthenticationRounds = 4;

    /// <summary>
    /// Connects to the proxy (TCP_NODELAY), asks it for a tunnel to <paramref name="targetHost"/>:<paramref name="targetPort"/>
    /// and returns the tunnel's stream once the proxy answers 2xx. Bytes the proxy sent after its response head are
    /// returned first by the stream. The credential, if any, is sent as Basic with the first CONNECT; when the proxy
    /// answers 407 offering Negotiate or NTLM, the handshake runs with <see cref="NegotiateAuthentication"/>.
    /// </summary>
    /// <param name="proxy">The proxy and its credential.</param>
    /// <param name="targetHost">The host to reach through the proxy (a name or an IP literal).</param>
    /// <param name="targetPort">The port to reach.</param>
    /// <param name="timeout">Bounds the whole dial: TCP connect, CONNECT exchange and authentication rounds.</param>
    /// <param name="cancellationToken">Cancels the dial; an <see cref="OperationCanceledException"/> is thrown.</param>
    /// <exception cref="ProxyConnectException">
    /// Kind <see cref="TunnelErrorKind.ProxyAuthentication"/> for 407, <see cref="TunnelErrorKind.Timeout"/> when
    /// <paramref name="timeout"/> elapsed, <see cref="TunnelErrorKind.Connection"/> for everything else.
    /// </exception>
    public static Task<Stream> ConnectAsync(ProxySettings proxy, string targetHost, int targetPort, TimeSpan timeout, CancellationToken cancellationToken) =>
        ConnectAsync(proxy, targetHost, targetPort, timeout, TimeProvider.System, cancellationToken);

    /// <inheritdoc cref="ConnectAsync(ProxySettings, string, int, TimeSpan, CancellationToken)"/>
    /// <param name="timeProvider">The clock the timeout runs on.</param>
    public static Task<Stream> ConnectAsync(ProxySettings proxy, string targetHost, int targetPort, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken) =>
        ConnectAsync(proxy, connected: null, targetHost, targetPort, timeout, timeProvider, trace: null, cancellationToken);

    /// <inheritdoc cref="ConnectAsync(ProxySettings, string, int, TimeSpan, TimeProvider, CancellationToken)"/>
    /// <param name="connected">
    /// A socket already connected to the proxy, used for the first CONNECT (the probe times its TCP connect as a step of
    /// its own); owned by the dial from here on. Null connects one.
    /// </param>
    /// <param name="trace">Records the proxy's answers and the schemes offered and used; null records nothing.</param>
    internal static async Task<Stream> ConnectAsync(
        ProxySettings proxy, Socket? connected, string targetHost, int targetPort, TimeSpan timeout, TimeProvider timeProvider, HttpConnectTrace? trace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentException.ThrowIfNullOrWhiteSpace(targetHost);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetPort, 65535);
        ArgumentNullException.ThrowIfNull(timeProvider);

        var dial = new Dial(proxy, targetHost, targetPort, connected, trace);
        using var timeoutSource = new CancellationTokenSource(timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            return await dial.RunAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && timeoutSource.IsCancellationRequested)
        {
            throw dial.Fail(TunnelErrorKind.Timeout, $"did not complete within {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s ({dial.Stage})", null, ex);
        }
    }

    /// <summary>One dial attempt: its context for messages and the connection currently open to the proxy.</summary>
    private sealed class Dial
    {
        private readonly ProxySettings _proxy;
        private readonly string _targetHost;
        private readonly int _targetPort;
        private readonly string _authority;
        private readonly NetworkCredential? _credential;
        private readonly HttpConnectTrace? _trace;
        private Socket? _connected;
        private Connection? _connection;

        public Dial(ProxySettings proxy, string targetHost, int targetPort, Socket? connected, HttpConnectTrace? trace)
        {
            _connected = connected;
            _trace = trace;
            _proxy = proxy;
            _targetHost = targetHost;
            _targetPort = targetPort;
            var host = targetHost.Contains(':', StringComparison.Ordinal) && !targetHost.StartsWith('[') ? $"[{targetHost}]" : targetHost;
            _authority = $"{host}:{targetPort.ToString(CultureInfo.InvariantCulture)}";
            _credential = proxy.EffectiveCredential;
        }

        public string Stage { get; private set; } = "connecting to the proxy";

        public async Task<Stream> RunAsync(CancellationToken cancellationToken)
        {
            try
            {
                await OpenAsync(cancellationToken).ConfigureAwait(false);
                var response = await ExchangeAsync(_credential is null ? null : "Basic " + BasicToken(_credential), cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == 407 && _credential is not null)
                {
                    response = await NegotiateAsync(response, cancellationToken).ConfigureAwait(false);
                }
                if (response.IsSuccess)
                {
                    var stream = _connection!.Detach();
                    _connection = null;
                    return stream;
                }
                // A 401 to CONNECT can only come from the proxy itself (nothing reached the target yet); tinyproxy
                // 1.11 answers wrong BasicAuth credentials with 401 instead of 407.
                if (response.StatusCode == 407 || (response.StatusCode == 401 && _credential is not null))
                {
                    throw _credential is null
                        ? Fail(TunnelErrorKind.ProxyAuthentication, $"requires credentials ({response.StatusText}). Set -ProxyCredential or put user info in http_proxy (http://user:password@host:port)", response.StatusCode, null)
                        : Fail(TunnelErrorKind.ProxyAuthentication, $"refused the credentials ({response.StatusText}). Check -ProxyCredential or the user info in http_proxy", response.StatusCode, null);
                }
                throw Fail(TunnelErrorKind.Connection, $"refused the tunnel: {response.StatusText}", response.StatusCode, null);
            }
            catch (SocketException ex)
            {
                throw Fail(TunnelErrorKind.Connection, $"failed while {Stage}: {Describe(ex)}", null, ex);
            }
            catch (IOException ex)
            {
                throw Fail(TunnelErrorKind.Connection, $"failed while {Stage}: {(ex.InnerException is SocketException se ? Describe(se) : ex.Message)}", null, ex);
            }
            finally
            {
                _connection?.Dispose();
                _connected?.Dispose();
            }
        }

        public ProxyConnectException Fail(TunnelErrorKind kind, string what, int? status, Exception? inner)
        {
            // Where the proxy setting came from (-Proxy, the config file, an environment variable): a user who did
            // not know a proxy was in play learns where to change it.
            var from = _proxy.Source is { } source ? $" The proxy setting comes from {source}." : string.Empty;
            var message = kind == TunnelErrorKind.ProxyAuthentication
                ? $"The proxy {_proxy.DisplayAddress} {what}. (Target: {_authority}.){from}"
                : $"The proxy {_proxy.DisplayAddress} {what} (CONNECT {_authority}).{from}";
            return new ProxyConnectException(message, kind, _proxy.DisplayAddress, _targetHost, _targetPort, status, inner);
        }

        private async Task OpenAsync(CancellationToken cancellationToken)
        {
            _connection?.Dispose();
            _connection = null;
            Stage = "connecting to the proxy";
            if (_connected is { } connected)
            {
                _connected = null;
                _connection = new Connection(connected);
                return;
            }
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(_proxy.Address.IdnHost, _proxy.Address.Port, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw Fail(TunnelErrorKind.Connection, $"cannot be reached: {Describe(ex)}", null, ex);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            _connection = new Connection(socket);
        }

        /// <summary>Sends one CONNECT and reads the head of the answer.</summary>
        private async Task<HttpConnectResponse> ExchangeAsync(string? authorization, CancellationToken cancellationToken)
        {
            var request = new StringBuilder(256)
                .Append("CONNECT ").Append(_authority).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(_authority).Append("\r\n")
                .Append("User-Agent: TunnelPS\r\n")
                .Append("Proxy-Connection: Keep-Alive\r\n");
            if (authorization is not null)
            {
                request.Append("Proxy-Authorization: ").Append(authorization).Append("\r\n");
            }
            request.Append("\r\n");
            Stage = "sending CONNECT";
            await _connection!.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken).ConfigureAwait(false);
            Stage = "waiting for the answer to CONNECT";
            var response = await ReadHeadAsync(cancellationToken).ConfigureAwait(false);
            _trace?.Record(response, authorization);
            return response;
        }

        private async Task<HttpConnectResponse> ReadHeadAsync(CancellationToken cancellationToken)
        {
            var (status, headEnd) = await _connection!.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
            switch (status)
            {
                case HeadStatus.Closed:
                    throw Fail(TunnelErrorKind.Connection, "closed the connection before answering", null, null);
                case HeadStatus.TooLarge:
                    throw Fail(TunnelErrorKind.Connection, $"sent a response head larger than {MaxResponseHeadLength} bytes", null, null);
            }
            var response = _connection.ParseHead(headEnd);
            return response ?? throw Fail(TunnelErrorKind.Connection, $"answered with something that is not HTTP: \"{_connection.FirstLine(headEnd)}\"", null, null);
        }

        /// <summary>Runs NTLM or Negotiate after a 407 that offers it; returns the final response.</summary>
        private async Task<HttpConnectResponse> NegotiateAsync(HttpConnectResponse first, CancellationToken cancellationToken)
        {
            var offered = first.Challenges();
            var packages = new List<string>(2);
            if (offered.Any(c => c.Scheme.Equals("Negotiate", StringComparison.OrdinalIgnoreCase)))
            {
                packages.Add("Negotiate");
            }
            if (offered.Any(c => c.Scheme.Equals("NTLM", StringComparison.OrdinalIgnoreCase)))
            {
                packages.Add("NTLM");
            }
            if (packages.Count == 0)
            {
                return first; // Basic only: the Basic credentials were refused.
            }

            var reusable = await DrainAsync(first, cancellationToken).ConfigureAwait(false);
            string? unsupported = null;
            foreach (var package in packages)
            {
                using var auth = CreateAuthentication(package, out var createError);
                if (auth is null)
                {
                    unsupported = createError;
                    continue;
                }
                var blob = auth.GetOutgoingBlob((string?)null, out var code);
                if (code is not (NegotiateAuthenticationStatusCode.ContinueNeeded or NegotiateAuthenticationStatusCode.Completed) || blob is null)
                {
                    unsupported = code.ToString();
                    continue;
                }
                if (!reusable)
                {
                    await OpenAsync(cancellationToken).ConfigureAwait(false);
                }
                Stage = $"authenticating with {package}";
                var response = await ExchangeAsync($"{package} {blob}", cancellationToken).ConfigureAwait(false);
                for (var round = 1; round < MaxAuthenticationRounds && response.StatusCode == 407; round++)
                {
                    var challenge = response.Challenges().FirstOrDefault(c => c.Scheme.Equals(package, StringComparison.OrdinalIgnoreCase));
                    if (challenge.Data is null || code == NegotiateAuthenticationStatusCode.Completed)
                    {
                        return response; // credentials refused
                    }
                    blob = auth.GetOutgoingBlob(challenge.Data, out code);
                    if (code is not (NegotiateAuthenticationStatusCode.ContinueNeeded or NegotiateAuthenticationStatusCode.Completed))
                    {
                        throw Fail(TunnelErrorKind.ProxyAuthentication, $"sent a {package} challenge that could not be answered ({code}). Check -ProxyCredential or the user info in http_proxy", 407, null);
                    }
                    if (!await DrainAsync(response, cancellationToken).ConfigureAwait(false))
                    {
                        throw Fail(TunnelErrorKind.ProxyAuthentication, $"closed the connection in the middle of the {package} handshake", 407, null);
                    }
                    response = await ExchangeAsync(blob is null ? package : $"{package} {blob}", cancellationToken).ConfigureAwait(false);
                }
                return response;
            }
            throw Fail(TunnelErrorKind.ProxyAuthentication,
                $"asks for {string.Join(" or ", packages)} authentication, which this platform cannot perform ({unsupported}). On Linux and macOS NTLM needs the gss-ntlmssp GSSAPI provider; alternatively enable Basic authentication on the proxy",
                407, null);
        }

        private NegotiateAuthentication? CreateAuthentication(string package, out string? error)
        {
            error = null;
            try
            {
                return new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
                {
                    Package = package,
                    Credential = _credential!,
                    TargetName = "HTTP/" + _proxy.Address.IdnHost,
                    RequiredProtectionLevel = ProtectionLevel.None,
                });
            }
            catch (PlatformNotSupportedException ex)
            {
                error = ex.Message;
                return null;
            }
        }

        /// <summary>Reads and discards a non-2xx body so the connection can carry the next CONNECT; false if it cannot.</summary>
        private async Task<bool> DrainAsync(HttpConnectResponse response, CancellationToken cancellationToken)
        {
            if (response.ClosesConnection())
            {
                return false;
            }
            Stage = "reading the proxy's 407 body";
            if (response.Value("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                return await _connection!.DrainChunkedAsync(MaxDrainedBodyLength, cancellationToken).ConfigureAwait(false);
            }
            if (response.Value("Content-Length") is { } cl)
            {
                return long.TryParse(cl.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                    && length <= MaxDrainedBodyLength
                    && await _connection!.SkipAsync(length, cancellationToken).ConfigureAwait(false);
            }
            return false; // body delimited by close
        }

        private static string BasicToken(NetworkCredential credential)
        {
            var user = string.IsNullOrEmpty(credential.Domain) ? credential.UserName : $"{credential.Domain}\\{credential.UserName}";
            return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{credential.Password}"));
        }

        private static string Describe(SocketException ex) => ex.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
            SocketError.TimedOut => "timed out",
            SocketError.ConnectionReset => "connection reset",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
            _ => ex.Message,
        };
    }

    private enum HeadStatus
    {
        Complete,
        Closed,
        TooLarge,
    }

    /// <summary>A TCP connection to the proxy with a receive buffer that holds what was read past a response head.</summary>
    private sealed class Connection : IDisposable
    {
        private readonly NetworkStream _stream;
        private readonly byte[] _buffer = new byte[MaxResponseHeadLength];
        private int _start;
        private int _end;

        public Connection(Socket socket)
        {
            _stream = new BatchingNetworkStream(socket);
        }

        public ValueTask WriteAsync(byte[] bytes, CancellationToken cancellationToken) => _stream.WriteAsync(bytes, cancellationToken);

        /// <summary>Reads until the buffered bytes hold a complete head; returns the index just past it.</summary>
        public async Task<(HeadStatus Status, int HeadEnd)> ReadHeadAsync(CancellationToken cancellationToken)
        {
            Compact();
            var scanned = _start;
            while (true)
            {
                var end = FindHeadEnd(_buffer.AsSpan(0, _end), scanned);
                if (end >= 0)
                {
                    return (HeadStatus.Complete, end);
                }
                scanned = Math.Max(_start, _end - 3);
                if (_end == _buffer.Length)
                {
                    return (HeadStatus.TooLarge, 0);
                }
                var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (HeadStatus.Closed, 0);
                }
                _end += read;
            }
        }

        /// <summary>Parses the head ending at <paramref name="headEnd"/> and consumes it; null (nothing consumed) if it is not HTTP.</summary>
        public HttpConnectResponse? ParseHead(int headEnd)
        {
            var text = Encoding.Latin1.GetString(_buffer, _start, headEnd - _start);
            var lines = text.Split('\n');
            var statusLine = lines[0].TrimEnd('\r');
            // HTTP/1.1 200 Connection established
            if (!statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) || statusLine.Length < 12 || statusLine[8] != ' ')
            {
                return null;
            }
            if (!int.TryParse(statusLine.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status < 100)
            {
                return null;
            }
            var reason = statusLine.Length > 13 ? statusLine[13..].Trim() : string.Empty;
            var headers = new List<KeyValuePair<string, string>>();
            for (var i = 1; i < lines.Length; i++)
            {
                var line = lines[i].TrimEnd('\r');
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
                }
            }
            _start = headEnd;
            return new HttpConnectResponse(statusLine[7] == '0', status, reason, headers);
        }

        public string FirstLine(int headEnd)
        {
            var span = _buffer.AsSpan(_start, Math.Min(headEnd - _start, 80));
            var newline = span.IndexOfAny((byte)'\r', (byte)'\n');
            return Encoding.Latin1.GetString(newline < 0 ? span : span[..newline]);
        }

        public async Task<bool> SkipAsync(long count, CancellationToken cancellationToken)
        {
            while (count > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }
                var n = (int)Math.Min(count, _end - _start);
                _start += n;
                count -= n;
            }
            return true;
        }

        public async Task<bool> DrainChunkedAsync(int limit, CancellationToken cancellationToken)
        {
            long total = 0;
            while (true)
            {
                var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line is null)
                {
                    return false;
                }
                var semicolon = line.IndexOf(';', StringComparison.Ordinal);
                var sizeText = (semicolon < 0 ? line : line[..semicolon]).Trim();
                if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
                {
                    return false;
                }
                total += size;
                if (total > limit)
                {
                    return false;
                }
                if (size == 0)
                {
                    // Trailers up to an empty line.
                    while (true)
                    {
                        var trailer = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                        if (trailer is null)
                        {
                            return false;
                        }
                        if (trailer.Length == 0)
                        {
                            return true;
                        }
                    }
                }
                if (!await SkipAsync(size, cancellationToken).ConfigureAwait(false) || await ReadLineAsync(cancellationToken).ConfigureAwait(false) is not { Length: 0 })
                {
                    return false;
                }
            }
        }

        /// <summary>Hands over the socket as the tunnel's stream, with any bytes read past the head in front.</summary>
        public Stream Detach()
        {
            var stream = _start < _end ? new PrefixedStream(_stream, _buffer.AsSpan(_start, _end - _start).ToArray()) : (Stream)_stream;
            _start = _end = 0;
            return stream;
        }

        public void Dispose() => _stream.Dispose();

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var line = Encoding.Latin1.GetString(_buffer, _start, newline).TrimEnd('\r');
                    _start += newline + 1;
                    return line;
                }
                if (_start == 0 && _end == _buffer.Length)
                {
                    return null;
                }
                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            Compact();
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            _end += read;
            return read > 0;
        }

        private void Compact()
        {
            if (_start == 0)
            {
                return;
            }
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        /// <summary>Finds the end of a head (an empty line, CRLF or bare LF) at or after <paramref name="from"/>.</summary>
        private static int FindHeadEnd(ReadOnlySpan<byte> data, int from)
        {
            for (var i = from; i < data.Length; i++)
            {
                if (data[i] != (byte)'\n')
                {
                    continue;
                }
                if (i + 1 < data.Length && data[i + 1] == (byte)'\n')
                {
                    return i + 2;
                }
                if (i + 2 < data.Length && data[i + 1] == (byte)'\r' && data[i + 2] == (byte)'\n')
                {
                    return i + 3;
                }
            }
            return -1;
        }
    }
}
