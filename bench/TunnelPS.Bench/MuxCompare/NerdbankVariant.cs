using System.Diagnostics;
using Nerdbank.Streams;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// Nerdbank.Streams' <see cref="MultiplexingStream"/> over the same kind of TLS connection: protocol major version 3
/// (no handshake, backpressure) with the same 256 KiB receiving window per channel as the engine's link, tracing off.
/// A stream is a named channel offer (the name carries the purpose and the visitor's address) that the acceptor
/// accepts as it arrives; <see cref="MultiplexingStream.OfferChannelAsync(string, MultiplexingStream.ChannelOptions, CancellationToken)"/>
/// returns only once the acceptance came back, so every stream costs a round trip before its first byte.
/// </summary>
internal sealed class NerdbankVariant : IMuxVariant
{
    /// <summary>The protocol version used: 3 is the newest with a fixed window (4 lets a channel grow its window).</summary>
    public const int ProtocolMajorVersion = 3;

    private readonly MultiplexingStream _opener;
    private readonly MultiplexingStream _acceptor;
    private readonly MultiplexingStream.ChannelOptions _channelOptions;

    private NerdbankVariant(MultiplexingStream opener, MultiplexingStream acceptor, MultiplexingStream.ChannelOptions channelOptions)
    {
        _opener = opener;
        _acceptor = acceptor;
        _channelOptions = channelOptions;
    }

    public string Name => "Nerdbank v" + ProtocolMajorVersion;

    /// <summary>The package's version, as loaded.</summary>
    public static string PackageVersion =>
        typeof(MultiplexingStream).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0]
        ?? typeof(MultiplexingStream).Assembly.GetName().Version?.ToString() ?? "?";

    public static async Task<NerdbankVariant> StartAsync(LoopbackTls tls, AcceptorService service, int window, CancellationToken cancellationToken)
    {
        var (opener, acceptor) = await tls.ConnectPairAsync(cancellationToken);
        var channelOptions = new MultiplexingStream.ChannelOptions { ChannelReceivingWindowSize = window };
        MultiplexingStream.Options Options(bool suspended) => new()
        {
            ProtocolMajorVersion = ProtocolMajorVersion,
            DefaultChannelReceivingWindowSize = window,
            TraceSource = new TraceSource("Nerdbank.Streams.Bench", SourceLevels.Off),
            StartSuspended = suspended,
        };
        var openerMx = MultiplexingStream.Create(opener, Options(suspended: false));
        // The acceptor listens only once its handler is attached, so that no offer is missed.
        var acceptorMx = MultiplexingStream.Create(acceptor, Options(suspended: true));
        acceptorMx.ChannelOffered += (_, offer) =>
        {
            var channel = acceptorMx.AcceptChannel(offer.QualifiedId.Id, channelOptions);
            var purpose = offer.Name.Split('\n')[0];
            _ = service.ServeAsync(new NerdbankChannelStream(channel), purpose);
        };
        acceptorMx.StartListening();
        return new NerdbankVariant(openerMx, acceptorMx, channelOptions);
    }

    public async ValueTask<Stream> OpenAsync(string purpose, CancellationToken cancellationToken)
    {
        var channel = await _opener.OfferChannelAsync(purpose + "\n" + AcceptorService.ClientAddress, _channelOptions, cancellationToken);
        return new NerdbankChannelStream(channel);
    }

    public async ValueTask DisposeAsync()
    {
        await _opener.DisposeAsync();
        await _acceptor.DisposeAsync();
    }
}
