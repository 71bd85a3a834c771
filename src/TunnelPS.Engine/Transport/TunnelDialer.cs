using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace TunnelPS.Engine.Transport;

/// <summary>How a client trusts the server's certificate.</summary>
public sealed record ServerTrust
{
    /// <summary>Accept exactly the certificate with this SHA-256 thumbprint (self-signed servers); null uses system roots.</summary>
    public string? PinnedThumbprint { get; init; }

    /// <summary>Accept any certificate (testing only).</summary>
    public bool SkipCertificateCheck { get; init; }

    /// <summary>
    /// Without a pin, also accept a certificate that one of this user's own local CAs issued (the ca-*.pfx files in
    /// <see cref="LocalAuthorityFolder"/>): a server this user started on this computer, in any PowerShell window, is
    /// trusted without -ServerCertificateThumbprint. On by default.
    /// </summary>
    public bool TrustLocalAuthorities { get; init; } = true;

    /// <summary>Where this user's local CAs are kept; null: ~/.tunnelps.</summary>
    public string? LocalAuthorityFolder { get; init; }
}

/// <summary>Dials the tunnel server: TCP (directly or through an HTTP CONNECT proxy), then TLS with SNI.</summary>
internal static class TunnelDialer
{
    public static Task<SslStream> DialAsync(
        ServerAddress server, ServerTrust trust, ProxySettings? proxy, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken) =>
        DialAsync(server, trust, proxy, timeout, time, inlineCompletions: false, cancellationToken);

    /// <summary>
    /// Dials the server (through the proxy when one applies) and does TLS; with <paramref name="inlineCompletions"/>
    /// the connection's receives complete inline once the handshake is done (see <see cref="InlineCompletions"/>).
    /// </summary>
    public static async Task<SslStream> DialAsync(
        ServerAddress server, ServerTrust trust, ProxySettings? proxy, TimeSpan timeout, TimeProvider time, bool inlineCompletions, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        Stream raw;
        var viaProxy = proxy is not null && !proxy.ShouldBypass(server.Host, server.Port);
        try
        {
            raw = viaProxy
                ? await HttpConnectDialer.ConnectAsync(proxy!, server.Host, server.Port, timeout, time, linked.Token).ConfigureAwait(false)
                : await ConnectTcpAsync(server.Host, server.Port, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TunnelConnectionException(
                string.Create(CultureInfo.InvariantCulture, $"The tunnel server {server} did not answer within {timeout.TotalSeconds:0} s. Check -ServerAddress and that the network lets you reach it (or set a proxy)."),
                kind: TunnelErrorKind.Timeout);
        }
        catch (SocketException ex)
        {
            throw new TunnelConnectionException(DescribeSocketError(server, ex), ex);
        }

        return await HandshakeAsync(raw, server, new ServerCertificateCheck(trust), timeout, inlineCompletions, linked.Token, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the TLS handshake with the server over <paramref name="raw"/> (which it owns from now on: disposed on
    /// failure), checking the certificate with <paramref name="check"/>. <paramref name="token"/> carries the deadline
    /// as well as <paramref name="cancellationToken"/>; a deadline (not the caller) cancelling it is a timeout error.
    /// </summary>
    internal static async Task<SslStream> HandshakeAsync(
        Stream raw, ServerAddress server, ServerCertificateCheck check, TimeSpan timeout, bool inlineCompletions, CancellationToken token, CancellationToken cancellationToken)
    {
        var ssl = new PeerSslStream(raw);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = IPAddress.TryParse(server.Host, out _) ? "" : server.Host,
            EnabledSslProtocols = TlsDefaults.Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = check.Validate,
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, token).ConfigureAwait(false);
            if (inlineCompletions && raw is NetworkStream network)
            {
                InlineCompletions.TryEnable(network.Socket);
            }
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            if (check.Thumbprint is not null && check.Outcome == ServerCertificateTrust.None && ex is AuthenticationException)
            {
                throw check.Refusal(server, ex);
            }
            if (ex is OperationCanceledException)
            {
                throw new TunnelConnectionException(
                    string.Create(CultureInfo.InvariantCulture, $"The TLS handshake with the tunnel server {server} did not finish within {timeout.TotalSeconds:0} s. Is {server} a TunnelPS or ngrok server port?"),
                    ex, TunnelErrorKind.Timeout);
            }
            throw new TunnelConnectionException($"The TLS handshake with the tunnel server {server} failed: {MessageText.Clause(ex.Message)}. Is {server} a TunnelPS or ngrok server port?", ex);
        }
    }

    /// <summary>Connects a TCP socket (every resolved address in turn) with TCP_NODELAY.</summary>
    public static async Task<NetworkStream> ConnectTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            SocketTuning.Apply(socket);
            if (IPAddress.TryParse(host, out var ip))
            {
                await socket.ConnectAsync(new IPEndPoint(ip, port), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(new DnsEndPoint(host, port), cancellationToken).ConfigureAwait(false);
            }
            return new BatchingNetworkStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects a TCP socket to one address with TCP_NODELAY.</summary>
    public static async Task<NetworkStream> ConnectTcpAsync(IPEndPoint endPoint, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectSocketAsync(endPoint, cancellationToken).ConfigureAwait(false), ownsSocket: true);

    /// <summary>Connects a TCP socket to one address with TCP_NODELAY; the caller owns the socket.</summary>
    public static async Task<Socket> ConnectSocketAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            SocketTuning.Apply(socket);
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static string DescribeSocketError(ServerAddress server, SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => $"Could not connect to the tunnel server {server}: the connection was refused. Check -ServerAddress and that the server is running.",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"Could not connect to the tunnel server {server}: the host name '{server.Host}' could not be resolved. Check -ServerAddress.",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => $"Could not connect to the tunnel server {server}: the network or host is unreachable. Check your network, or set a proxy with -Proxy.",
        SocketError.TimedOut => $"Could not connect to the tunnel server {server}: the connection timed out.",
        _ => $"Could not connect to the tunnel server {server}: {MessageText.Clause(ex.Message)}.",
    };
}
