using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// Dials a tunnel's local service. The address that answered last is remembered, so a visitor does not wait for a name
/// lookup (nor for "localhost" to try ::1 before 127.0.0.1) on every connection; when that address stops answering,
/// the name is resolved again and each of its addresses tried in turn.
/// </summary>
/// <param name="timeout">How long one dial (lookup, connect, TLS) may take, on <paramref name="time"/>'s clock.</param>
internal sealed class LocalDialer(LocalTarget target, TimeSpan timeout, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null, bool inlineCompletions = false, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve = resolve ?? Dns.GetHostAddressesAsync;
    private volatile IPEndPoint? _known;

    public LocalTarget Target => target;

    /// <summary>The address the last successful dial used (null before the first).</summary>
    public IPEndPoint? KnownEndPoint => _known;

    public async Task<Stream> DialAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The deadline runs on the client's clock (a test's fake one moves it), one timer per dial as CancelAfter's.
        using var timer = _time.CreateTimer(static state => Cancel((CancellationTokenSource)state!), deadline, timeout, Timeout.InfiniteTimeSpan);
        var token = deadline.Token;
        var stream = await ConnectAsync(token).ConfigureAwait(false);
        if (!target.UseTls)
        {
            if (inlineCompletions && stream is NetworkStream network)
            {
                InlineCompletions.TryEnable(network.Socket);
            }
            return stream;
        }
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            // The local service is the user's own, usually with a development certificate: it is not validated.
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = IPAddress.TryParse(target.Host, out _) ? "" : target.Host,
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
            }, token).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void Cancel(CancellationTokenSource deadline)
    {
        try
        {
            deadline.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Handled: the dial ended (and disposed its deadline) as the timer fired; nothing is left to cancel.
        }
    }

    private async Task<Stream> ConnectAsync(CancellationToken token)
    {
        if (_known is { } known)
        {
            try
            {
                return await TunnelDialer.ConnectTcpAsync(known, token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // The service moved or stopped: look the name up again below.
                _known = null;
            }
        }
        IPAddress[] addresses = IPAddress.TryParse(target.Host, out var literal)
            ? [literal]
            : await _resolve(target.Host, token).ConfigureAwait(false);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var endPoint = new IPEndPoint(address, target.Port);
            try
            {
                var stream = await TunnelDialer.ConnectTcpAsync(endPoint, token).ConfigureAwait(false);
                _known = endPoint;
                return stream;
            }
            catch (SocketException ex)
            {
                last = ex;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }
}
