using System.Buffers;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Re-sends a captured request (optionally modified) to a target over a raw TCP (or TLS) connection with
/// TCP_NODELAY, reads the full response with the HTTP/1.1 framing layer, and stores the result as a new exchange with
/// <see cref="CapturedExchange.IsReplay"/> set.
/// </summary>
public sealed class ExchangeReplayer
{
    private static readonly string[] FramingHeaders = ["Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Expect", "Upgrade", "TE", "Trailer"];

    private readonly TimeProvider _time;

    public ExchangeReplayer()
        : this(TimeProvider.System)
    {
    }

    public ExchangeReplayer(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
    }

    /// <summary>Builds the request head that <see cref="ReplayAsync"/> would send (for previews and tests).</summary>
    public static HttpRequestHead BuildRequestHead(CapturedExchange original, Uri target, ReplayOptions? options, out ReadOnlyMemory<byte> body)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new ReplayOptions();
        var method = options.Method ?? (string.IsNullOrEmpty(original.Method) ? "GET" : original.Method);
        var requestTarget = options.Target ?? original.Target;
        if (Uri.TryCreate(requestTarget, UriKind.Absolute, out var absolute) && (absolute.Scheme == Uri.UriSchemeHttp || absolute.Scheme == Uri.UriSchemeHttps))
        {
            requestTarget = absolute.PathAndQuery;
        }
        if (string.IsNullOrEmpty(requestTarget))
        {
            requestTarget = string.IsNullOrEmpty(target.PathAndQuery) ? "/" : target.PathAndQuery;
        }

        var headers = new HttpHeaderList();
        foreach (var header in original.RequestHeaders)
        {
            if (header.Key.StartsWith(':') || IsFraming(header.Key))
            {
                continue;
            }
            headers.Add(header.Key, header.Value);
        }
        if (!options.KeepOriginalHost || !headers.Contains("Host"))
        {
            headers.Set("Host", target.IsDefaultPort ? target.IdnHost : $"{target.IdnHost}:{target.Port.ToString(CultureInfo.InvariantCulture)}");
        }
        if (options.RemoveHeaders is not null)
        {
            foreach (var name in options.RemoveHeaders)
            {
                headers.Remove(name);
            }
        }
        if (options.SetHeaders is not null)
        {
            foreach (var pair in options.SetHeaders)
            {
                headers.Set(pair.Key, pair.Value);
            }
        }
        body = options.Body ?? original.RequestBody;
        foreach (var name in FramingHeaders)
        {
            headers.Remove(name);
        }
        if (!body.IsEmpty || method is "POST" or "PUT" or "PATCH")
        {
            headers.Add("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture));
        }
        headers.Add("Connection", "close");
        return new HttpRequestHead(method, requestTarget, "HTTP/1.1", headers);
    }

    /// <summary>
    /// Replays <paramref name="original"/> to <paramref name="target"/> (http or https; its path is used only when the
    /// exchange has no target) and adds the result to <paramref name="store"/>.
    /// </summary>
    /// <exception cref="ReplayException">The connection failed or timed out, or the response was not HTTP/1.x.</exception>
    public async Task<CapturedExchange> ReplayAsync(CapturedExchange original, Uri target, CaptureStore store, ReplayOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(store);
        options ??= new ReplayOptions();
        CheckTarget(target);
        var head = BuildRequestHead(original, target, options, out var body);
        var request = Serialize(head, body);

        using var timeout = new CancellationTokenSource(options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        var startTime = _time.GetUtcNow();
        var start = _time.GetTimestamp();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            stream = await ConnectAsync(socket, target, options, token).ConfigureAwait(false);
            await stream.WriteAsync(request, token).ConfigureAwait(false);
            await stream.FlushAsync(token).ConfigureAwait(false);
            var response = await ReadResponseAsync(stream, head.Method, store.MaxBodySize, token).ConfigureAwait(false);
            var end = _time.GetTimestamp();
            var sent = new SentRequest(head, body, request.Length, socket.LocalEndPoint?.ToString() ?? string.Empty, startTime, start);
            return store.AddOwned(BuildReplay(original, target, options, sent, response, end));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ReplayException($"Replaying {TerminalText.Line(head.Method)} {TerminalText.Line(head.Target)} to {target} timed out after {options.Timeout.TotalSeconds:0.###} s.", TunnelErrorKind.Timeout);
        }
        catch (SocketException ex)
        {
            throw new ReplayException($"Could not replay to {target}: {DescribeSocketError(ex)}.", TunnelErrorKind.Connection, ex);
        }
        catch (AuthenticationException ex)
        {
            throw new ReplayException($"Could not replay to {target}: the TLS handshake failed ({ex.Message}).", TunnelErrorKind.Connection, ex);
        }
        catch (IOException ex)
        {
            throw new ReplayException($"Could not replay to {target}: the connection failed ({ex.Message}).", TunnelErrorKind.Connection, ex);
        }
        catch (HttpParseException ex)
        {
            throw new ReplayException($"The response from {target} is not valid HTTP/1.x: {ex.Message}", TunnelErrorKind.Protocol, ex);
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    private static void CheckTarget(Uri target)
    {
        if (!target.IsAbsoluteUri || (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"The replay target '{target}' is not an absolute http or https URL.", nameof(target));
        }
    }

    /// <summary>The request's bytes as sent: the head, then the body, in one write.</summary>
    private static byte[] Serialize(HttpRequestHead head, ReadOnlyMemory<byte> body)
    {
        var headLength = head.GetSerializedLength();
        var request = new byte[headLength + body.Length];
        head.WriteTo(request);
        body.Span.CopyTo(request.AsSpan(headLength));
        return request;
    }

    /// <summary>Connects to <paramref name="target"/> on <paramref name="socket"/>, with TLS for https; the stream owns the socket.</summary>
    private static async Task<Stream> ConnectAsync(Socket socket, Uri target, ReplayOptions options, CancellationToken token)
    {
        await socket.ConnectAsync(target.IdnHost, target.Port, token).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (target.Scheme != Uri.UriSchemeHttps)
        {
            return stream;
        }
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = target.IdnHost,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    RemoteCertificateValidationCallback = options.CertificateValidation,
                },
                token).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The replay as the store keeps it: the request as sent, the response as read, the original's tunnel.</summary>
    private CapturedExchange BuildReplay(CapturedExchange original, Uri target, ReplayOptions options, SentRequest sent, ResponseRead response, long end)
    {
        return new CapturedExchange
        {
            TunnelName = original.TunnelName,
            PublicUrl = original.PublicUrl,
            LocalAddress = original.LocalAddress,
            ConnectionId = 0,
            ClientAddress = sent.ClientAddress,
            Scheme = target.Scheme,
            Host = sent.Head.Headers["Host"],
            Method = sent.Head.Method,
            Target = sent.Head.Target,
            HttpVersion = sent.Head.Version,
            RequestHeaders = sent.Head.Headers.ToArray(),
            RequestBody = sent.Body,
            RequestBodySize = sent.Body.Length,
            Status = response.Head?.StatusCode ?? 0,
            Reason = response.Head?.Reason ?? string.Empty,
            ResponseHeaders = response.Head?.Headers.ToArray() ?? [],
            PooledResponseBody = response.Body.Body,
            ResponseBodySize = response.Body.Total,
            ResponseTruncated = response.Body.Truncated,
            StartTime = sent.StartTime,
            TimeToFirstByte = _time.GetElapsedTime(sent.Start, response.FirstByteTimestamp),
            Duration = _time.GetElapsedTime(sent.Start, end),
            BytesIn = sent.Bytes,
            BytesOut = response.Bytes,
            IsUpgrade = response.Head?.StatusCode == 101,
            IsReplay = true,
            ReplayOf = original.Id > 0 ? original.Id : original.ReplayOf,
            Error = original.RequestTruncated && options.Body is null
                ? "The captured request body was truncated; the replay sent only the captured part."
                : null,
        };
    }

    /// <summary>What was sent: the head and body, their length on the wire, from where, and when.</summary>
    private sealed record SentRequest(HttpRequestHead Head, ReadOnlyMemory<byte> Body, long Bytes, string ClientAddress, DateTimeOffset StartTime, long Start);

    private static bool IsFraming(string name)
    {
        foreach (var framing in FramingHeaders)
        {
            if (string.Equals(framing, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static string DescribeSocketError(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostNotFound or SocketError.NoData => "host not found",
        SocketError.TimedOut => "connection timed out",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
        SocketError.ConnectionReset => "connection reset",
        _ => ex.Message,
    };

    private async Task<ResponseRead> ReadResponseAsync(Stream stream, string method, int cap, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var result = new ResponseRead { Body = new BodyCapture(cap, -1) };
        try
        {
            var count = 0;
            while (true)
            {
                if (count == buffer.Length)
                {
                    if (buffer.Length > HttpHeadParser.MaxHeadLength)
                    {
                        throw new HttpParseException($"Response head exceeds {HttpHeadParser.MaxHeadLength / 1024} KiB.");
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(count), token).ConfigureAwait(false);
                if (read == 0)
                {
                    if (result.Framer is { } framer && framer.OnConnectionClosed())
                    {
                        return result;
                    }
                    throw new IOException(result.Head is null
                        ? "the connection closed before a response arrived"
                        : "the connection closed before the response body was complete");
                }
                if (result.FirstByteTimestamp == 0)
                {
                    result.FirstByteTimestamp = _time.GetTimestamp();
                }
                result.Bytes += read;
                count += read;
                var offset = Consume(buffer.AsSpan(0, count), result, method, cap, out var done);
                if (done)
                {
                    return result;
                }
                // Keep an unfinished head at the start of the buffer; body bytes have been consumed.
                buffer.AsSpan(offset, count - offset).CopyTo(buffer);
                count -= offset;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Parses the buffered bytes of a response: interim heads skipped, the final head taken, body bytes framed into
    /// the capture. Returns how many bytes it consumed; <paramref name="done"/> once the response is complete.
    /// </summary>
    private static int Consume(ReadOnlySpan<byte> data, ResponseRead result, string method, int cap, out bool done)
    {
        var offset = 0;
        done = false;
        while (offset < data.Length)
        {
            if (result.Framer is not { } framer)
            {
                if (!HttpHeadParser.TryParseResponseHead(data[offset..], out var head, out var headLength))
                {
                    break;
                }
                offset += headLength;
                if (head.IsInterim)
                {
                    continue;
                }
                result.Head = head;
                if (head.StatusCode == 101)
                {
                    done = true;
                    return offset;
                }
                result.Framer = HttpBodyFramer.ForResponse(head, method);
                result.Body = new BodyCapture(cap, result.Framer.ContentLength);
                done = result.Framer.IsComplete;
                if (done)
                {
                    return offset;
                }
                continue;
            }
            offset += framer.Advance(data[offset..], result.Body, out done);
            if (done)
            {
                return offset;
            }
        }
        return offset;
    }

    private sealed class ResponseRead
    {
        public HttpResponseHead? Head { get; set; }
        public HttpBodyFramer? Framer { get; set; }
        public required BodyCapture Body { get; set; }
        public long FirstByteTimestamp { get; set; }
        public long Bytes { get; set; }
    }
}
