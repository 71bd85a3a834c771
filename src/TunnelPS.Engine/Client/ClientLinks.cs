using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// The multiplexed links of one control connection: <see cref="TunnelClientOptions.LinkCount"/> TLS connections, each
/// opened with RegLink and then carrying the server's visitor streams. A link that drops is dialled again (with backoff)
/// for as long as the control connection lives; each link pings the server now and then so that middleboxes keep it.
/// </summary>
internal sealed class ClientLinks : IAsyncDisposable
{
    private static readonly TimeSpan s_pingInterval = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_minRetry = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_maxRetry = TimeSpan.FromSeconds(5);

    private readonly TunnelClientOptions _options;
    private readonly RegLink _registration;
    private readonly MuxLinkLimits _limits;
    private readonly Func<MuxStream, string, string, Task> _onOpen;
    private readonly Action<Task> _track;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<MuxLink> _links = [];
    private readonly TaskCompletionSource _firstReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _running = Task.CompletedTask;
    private int _disposed;

    public ClientLinks(TunnelClientOptions options, string clientId, string proxyKey, Func<MuxStream, string, string, Task> onOpen, Action<Task> track, ILogger logger)
    {
        _options = options;
        _registration = new RegLink { ClientId = clientId, ProxyKey = proxyKey };
        _limits = new MuxLinkLimits
        {
            MaxStreams = options.MaxStreamsPerLink,
            WriteTimeout = options.LinkWriteTimeout,
            TimeProvider = options.TimeProvider,
            Logger = logger,
            Throttle = new LogThrottle(options.TimeProvider, TimeSpan.FromSeconds(30)),
            Name = "to " + options.Server,
        };
        _onOpen = onOpen;
        _track = track;
        _logger = logger;
    }

    /// <summary>Completes when the first link is up (or the links are stopped).</summary>
    public Task FirstReady => _firstReady.Task;

    /// <summary>Links open now.</summary>
    public int OpenCount
    {
        get
        {
            lock (_links)
            {
                return _links.Count(l => !l.IsClosed);
            }
        }
    }

    public void Start()
    {
        var token = _stop.Token;
        _running = Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.LinkCount)).Select(_ => KeepLinkAsync(token)));
    }

    private async Task KeepLinkAsync(CancellationToken token)
    {
        var retry = s_minRetry;
        while (!token.IsCancellationRequested)
        {
            MuxLink? link = null;
            try
            {
                link = await OpenLinkAsync(token).ConfigureAwait(false);
                link.Start();
                _firstReady.TrySetResult();
                retry = s_minRetry;
                await HoldAsync(link, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is TunnelException or IOException or System.Net.Sockets.SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                ClientLog.LinkEnded(_logger, ex.Message);
            }
#pragma warning disable CA1031 // The loop keeps a link for as long as the control connection lives; nothing may end it early or reach Stop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ClientLog.LinkFailed(_logger, ex);
            }
            finally
            {
                if (link is not null)
                {
                    lock (_links)
                    {
                        _links.Remove(link);
                    }
                    await link.DisposeAsync().ConfigureAwait(false);
                }
            }
            try
            {
                await Task.Delay(retry, _options.TimeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, s_maxRetry.Ticks));
        }
    }

    /// <summary>Dials one link and registers it with the session's proxy key; the caller starts it.</summary>
    private async Task<MuxLink> OpenLinkAsync(CancellationToken token)
    {
        var transport = await TunnelDialer.DialAsync(_options.Server, _options.Trust, _options.Proxy, _options.ConnectTimeout, _options.TimeProvider, _options.InlineSocketCompletions, token).ConfigureAwait(false);
        try
        {
            await FrameCodec.WriteAsync(transport, _registration, token).ConfigureAwait(false);
        }
        catch
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var link = new MuxLink(transport, _options.StreamWindow, _onOpen, _track, _limits);
        lock (_links)
        {
            _links.Add(link);
        }
        return link;
    }

    /// <summary>Pings an open link every <see cref="s_pingInterval"/> until it closes or the client stops; logs why it closed.</summary>
    private async Task HoldAsync(MuxLink link, CancellationToken token)
    {
        while (!link.IsClosed && !token.IsCancellationRequested)
        {
            await Task.WhenAny(link.Completion, Task.Delay(s_pingInterval, _options.TimeProvider, token)).ConfigureAwait(false);
            if (!link.IsClosed && !token.IsCancellationRequested)
            {
                link.Ping();
            }
        }
        if (!token.IsCancellationRequested)
        {
            ClientLog.LinkEnded(_logger, await link.Completion.ConfigureAwait(false));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            await _running.ConfigureAwait(false);
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _firstReady.TrySetResult();
        MuxLink[] links;
        lock (_links)
        {
            links = [.. _links];
        }
        foreach (var link in links)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The dial loop ends this way when the links are disposed: what it said is worth a Debug line, no more.
            ClientLog.LinkEnded(_logger, "the dial loop ended: " + ex.Message);
        }
    }
}
