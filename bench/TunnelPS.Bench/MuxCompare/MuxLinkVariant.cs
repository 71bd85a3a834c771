using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// The engine's own link (<see cref="MuxLink"/>): purpose-built 8-byte framing on System.IO.Pipelines, credit windows,
/// write coalescing; a stream opens with one Open frame that carries the URL and the visitor's address, and bytes may
/// follow at once (no round trip).
/// </summary>
internal sealed class MuxLinkVariant : IMuxVariant
{
    private readonly MuxLink _opener;
    private readonly MuxLink _acceptor;

    private MuxLinkVariant(MuxLink opener, MuxLink acceptor)
    {
        _opener = opener;
        _acceptor = acceptor;
    }

    public string Name => "MuxLink";

    public static async Task<MuxLinkVariant> StartAsync(LoopbackTls tls, AcceptorService service, int window, CancellationToken cancellationToken)
    {
        var (opener, acceptor) = await tls.ConnectPairAsync(cancellationToken);
        var openerLink = new MuxLink(opener, window);
        // As the tunnel client's handler does, the acceptor starts serving on the link's read loop (no thread hop).
        var acceptorLink = new MuxLink(acceptor, window, onOpen: (stream, url, _) => service.ServeAsync(stream, url));
        openerLink.Start();
        acceptorLink.Start();
        return new MuxLinkVariant(openerLink, acceptorLink);
    }

    public ValueTask<Stream> OpenAsync(string purpose, CancellationToken cancellationToken) =>
        ValueTask.FromResult<Stream>(_opener.Open(purpose, AcceptorService.ClientAddress));

    public async ValueTask DisposeAsync()
    {
        await _opener.DisposeAsync();
        await _acceptor.DisposeAsync();
    }
}
