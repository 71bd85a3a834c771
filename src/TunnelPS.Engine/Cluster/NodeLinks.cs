using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// The multiplexed links between this node and the other nodes of its cluster. A node dials one link per peer the
/// first time a visitor must be forwarded there and keeps it; a peer's link carries every forwarded visitor connection
/// as a stream (no TLS handshake per visitor). Both ends prove they hold the cluster secret with a keyed
/// challenge-response bound to the accepting node's certificate, so neither a stranger nor a relay in the middle gets
/// a link.
/// </summary>
internal sealed class NodeLinks : IAsyncDisposable
{
    /// <summary>
    /// The most forwarded visitors one node link carries at once. One link carries every visitor forwarded between two
    /// nodes, each already counted against the forwarding node's own connection limits: the cap only stops a runaway.
    /// </summary>
    internal const int NodeLinkMaxStreams = 4096;

    private readonly IClusterHost _host;
    private readonly ClusterNode _node;
    private readonly ILogger _logger;
    private readonly byte[] _key;
    private readonly object _gate = new();
    private readonly Dictionary<string, (string Run, Task<MuxLink> Link)> _dialled = new(StringComparer.Ordinal);
    private readonly List<MuxLink> _accepted = [];
    private bool _closed;

    public NodeLinks(IClusterHost host, ClusterNode node, string secret, ILogger logger)
    {
        _host = host;
        _node = node;
        _logger = logger;
        _key = SHA256.HashData(Encoding.UTF8.GetBytes("tunnelps-cluster-link:" + secret));
    }

    /// <summary>Links open now (dialled and accepted).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _dialled.Values.Count(d => d.Link.IsCompletedSuccessfully && !d.Link.Result.IsClosed) + _accepted.Count(l => !l.IsClosed);
            }
        }
    }

    /// <summary>The link to <paramref name="peer"/> (this run of it) at <paramref name="address"/>: the open one, or a new one dialled now.</summary>
    public Task<MuxLink> GetAsync(string peer, string run, string address)
    {
        lock (_gate)
        {
            if (_closed)
            {
                throw new IOException("The node is stopping.");
            }
#pragma warning disable CA1849 // Result of a task that completed successfully: it does not block (and this is under a lock).
            if (_dialled.TryGetValue(peer, out var known) && known.Run == run &&
                !(known.Link.IsCompleted && (!known.Link.IsCompletedSuccessfully || known.Link.Result.IsClosed)))
#pragma warning restore CA1849
            {
                return known.Link;
            }
            var link = DialAsync(peer, address);
            _dialled[peer] = (run, link);
            return link;
        }
    }

    private async Task<MuxLink> DialAsync(string peer, string address)
    {
        var (host, port) = SplitAddress(address);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? ssl = null;
        using var deadline = new CancellationTokenSource(_host.HandshakeTimeout, _host.Time);
        try
        {
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            string? thumbprint = null;
            ssl = new PeerSslStream(new BatchingNetworkStream(socket), (_, certificate, _, _) =>
            {
                // The certificate is not checked against a CA here: the proof below binds the peer's answer to it.
                thumbprint = certificate is null ? null : CertificateStore.Thumbprint(certificate);
                return certificate is not null;
            });
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = _host.Domain, EnabledSslProtocols = TlsDefaults.Protocols }, deadline.Token).ConfigureAwait(false);
            var nonce = NewNonce();
            await FrameCodec.WriteAsync(ssl, new NodeAuth { Node = _node.Name, Nonce = nonce }, deadline.Token).ConfigureAwait(false);
            if (await FrameCodec.ReadAsync(ssl, deadline.Token).ConfigureAwait(false) is not NodeAuth challenge || challenge.Error.Length > 0)
            {
                throw new IOException($"node {peer} at {address} refused the link");
            }
            if (challenge.Node != peer || !Verify(challenge.Proof, Proof("accept", nonce, challenge.Nonce, peer, _node.Name, thumbprint ?? "")))
            {
                throw new IOException($"the node at {address} did not prove it is {peer} of this cluster (another secret, or something in between)");
            }
            await FrameCodec.WriteAsync(ssl, new NodeAuth { Node = _node.Name, Proof = Proof("dial", challenge.Nonce, nonce, _node.Name, peer, thumbprint ?? "") }, deadline.Token).ConfigureAwait(false);
            if (await FrameCodec.ReadAsync(ssl, deadline.Token).ConfigureAwait(false) is not NodeAuth { Error.Length: 0 })
            {
                throw new IOException($"node {peer} at {address} did not accept this node's proof (check that every node has the same cluster secret)");
            }
            var link = new MuxLink(ssl, _host.StreamWindow, onOpen: null, track: _host.Track, _host.LinkLimits("node " + peer, NodeLinkMaxStreams));
            link.Start();
            ClusterLog.LinkOpened(_logger, peer, address);
            return link;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ProtocolException)
        {
            if (ssl is not null)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
            }
            socket.Dispose();
            var reason = ex is OperationCanceledException ? "it did not answer in time" : ex.Message;
            ClusterLog.LinkFailed(_logger, peer, address, reason);
            throw new IOException($"Cannot reach cluster node {peer} at {address}: {reason}", ex);
        }
    }

    /// <summary>
    /// Serves a connection whose first frame was NodeAuth: the keyed handshake, then a link whose streams are forwarded
    /// visitor connections served here as if they had arrived here. Returns when the link ends.
    /// </summary>
    public async Task AcceptAsync(Stream stream, NodeAuth hello, EndPoint? remote, long connectionId, Action authenticated)
    {
        MuxLink? link = null;
        try
        {
            using (var deadline = new CancellationTokenSource(_host.HandshakeTimeout, _host.Time))
            {
                var nonce = NewNonce();
                var thumbprint = _host.CertificateThumbprint;
                await FrameCodec.WriteAsync(stream, new NodeAuth { Node = _node.Name, Nonce = nonce, Proof = Proof("accept", hello.Nonce, nonce, _node.Name, hello.Node, thumbprint) }, deadline.Token).ConfigureAwait(false);
                var answer = await FrameCodec.ReadAsync(stream, deadline.Token).ConfigureAwait(false) as NodeAuth;
                if (answer is null || hello.Nonce.Length < 16 || !Verify(answer.Proof, Proof("dial", nonce, hello.Nonce, hello.Node, _node.Name, thumbprint)))
                {
                    _host.LinkRefused(connectionId, remote, "a cluster link without a valid proof of the cluster secret");
                    await FrameCodec.WriteAsync(stream, new NodeAuth { Node = _node.Name, Error = "The link's proof does not match this cluster's secret." }, deadline.Token).ConfigureAwait(false);
                    return;
                }
                await FrameCodec.WriteAsync(stream, new NodeAuth { Node = _node.Name }, deadline.Token).ConfigureAwait(false);
            }
            link = new MuxLink(stream, _host.StreamWindow, onOpen: ServeStreamAsync, track: _host.Track, _host.LinkLimits("node " + hello.Node, NodeLinkMaxStreams));
            lock (_gate)
            {
                _accepted.RemoveAll(l => l.IsClosed);
                if (_closed)
                {
                    return;
                }
                _accepted.Add(link);
            }
            authenticated();
            ClusterLog.LinkAccepted(_logger, hello.Node, ListenerSocket.Describe(remote));
            link.Start();
            var ended = await link.Completion.ConfigureAwait(false);
            _host.ConnectionClosed(connectionId, ListenerSocket.Describe(remote), "cluster link ended: " + ended);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ProtocolException or ObjectDisposedException or SocketException)
        {
            _host.ConnectionClosed(connectionId, ListenerSocket.Describe(remote), ex.Message);
        }
        finally
        {
            if (link is not null)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A stream the dialling node opened: a forwarded visitor, or its question whether this node serves a host.</summary>
    private Task ServeStreamAsync(MuxStream stream, string url, string clientAddress) =>
        url == ClusterRouter.WhoHolds ? AnswerWhoHoldsAsync(stream, clientAddress) : _host.ServeForwardedAsync(stream, url, clientAddress);

    /// <summary>
    /// Answers "do you serve this host?" with one byte, Y when a live session of this node serves it (http or https),
    /// else N, and ends the stream. Nothing is read from the stream: the host came in its open frame, bounded as every
    /// stream's address is, so the question holds nothing here beyond the stream itself (counted against the link's cap).
    /// </summary>
    private async Task AnswerWhoHoldsAsync(MuxStream stream, string host)
    {
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                var here = host.Length <= 253 && HostNames.IsValidHostname(host) &&
                    (_host.FindHttp("http", host) is { ClusterSession: not null } || _host.FindHttp("https", host) is { ClusterSession: not null });
                await stream.WriteAsync(here ? "Y"u8.ToArray() : "N"u8.ToArray()).ConfigureAwait(false);
                await Splicer.ShutdownWriteAsync(stream).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                ClusterLog.QuestionUnanswered(_logger, host, ex.Message);
            }
        }
    }

    /// <summary>Closes every link (the node stops).</summary>
    public void CloseAll()
    {
        List<MuxLink> links;
        lock (_gate)
        {
            _closed = true;
            links = [.. _accepted];
            _accepted.Clear();
            foreach (var (_, dialled) in _dialled)
            {
                if (dialled.Link.IsCompletedSuccessfully)
                {
                    links.Add(dialled.Link.Result);
                }
            }
            _dialled.Clear();
        }
        foreach (var link in links)
        {
            link.Close("the node is stopping");
        }
    }

    /// <summary>Pings the dialled links so that middleboxes keep them.</summary>
    public void PingAll()
    {
        lock (_gate)
        {
            foreach (var (_, dialled) in _dialled)
            {
                if (dialled.Link.IsCompletedSuccessfully && !dialled.Link.Result.IsClosed)
                {
                    dialled.Link.Result.Ping();
                }
            }
        }
    }

    private string Proof(string role, string nonceA, string nonceB, string self, string other, string thumbprint)
    {
        var text = string.Join('\n', "tunnelps-cluster-link/1", role, nonceA, nonceB, self, other, thumbprint.ToUpperInvariant());
        return Convert.ToHexString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(text)));
    }

    private static bool Verify(string given, string expected) =>
        given.Length == expected.Length && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(given), Encoding.ASCII.GetBytes(expected));

    private static string NewNonce() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    /// <summary>host:port (an IPv6 host in brackets) of a node address.</summary>
    internal static (string Host, int Port) SplitAddress(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new IOException($"The node address '{address}' is not host:port.");
        }
        return (address[..colon].Trim('[', ']'), port);
    }

    public async ValueTask DisposeAsync()
    {
        CloseAll();
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
