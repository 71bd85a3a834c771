namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// One way to carry many streams between the opener (the side visitors arrive at, as the TunnelPS server) and the
/// acceptor (which serves them, as the tunnel client): over one multiplexed TLS link, or one TLS connection per stream.
/// </summary>
internal interface IMuxVariant : IAsyncDisposable
{
    /// <summary>The name printed in the table.</summary>
    string Name { get; }

    /// <summary>
    /// Opens a stream to the acceptor, which serves it as <paramref name="purpose"/> says (see <see cref="AcceptorService"/>);
    /// disposing the stream closes it.
    /// </summary>
    ValueTask<Stream> OpenAsync(string purpose, CancellationToken cancellationToken);
}
