using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// The multiplexed links of one client session (at most <see cref="MaxLinks"/>): a visitor's stream opens on the least
/// busy one with room, with no round trip; when none has room it waits, within a deadline, for a link the client adds.
/// </summary>
internal sealed class SessionLinks(TunnelServer server, ILogger logger, long connectionId, string label)
{
    /// <summary>Most multiplexed links one session may hold.</summary>
    public const int MaxLinks = 8;

    private readonly List<MuxLink> _links = [];
    private readonly object _gate = new();
    private TaskCompletionSource? _linkAdded;
    private bool _closed;

    /// <summary>Multiplexed links open now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _links.Count(l => !l.IsClosed);
            }
        }
    }

    /// <summary>Adds a link the client opened; false when the session has its most links or has ended.</summary>
    public bool TryAdd(MuxLink link)
    {
        TaskCompletionSource? added;
        lock (_gate)
        {
            _links.RemoveAll(l => l.IsClosed);
            if (_closed || _links.Count >= MaxLinks)
            {
                return false;
            }
            _links.Add(link);
            added = _linkAdded;
            _linkAdded = null;
        }
        added?.TrySetResult();
        return true;
    }

    /// <summary>
    /// A new stream for one visitor of <paramref name="url"/> on the least busy link; waits up to
    /// <paramref name="timeout"/> for a link with room when none has; null when none came.
    /// </summary>
    public async Task<MuxStream?> OpenStreamAsync(string url, string clientAddress, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // The deadline's timer and token sources are made only when no link is ready: a visitor normally costs none.
        CancellationTokenSource? deadline = null;
        CancellationTokenSource? linked = null;
        try
        {
            while (true)
            {
                if (TryOpen(url, clientAddress, out var wait) is { } stream)
                {
                    return stream;
                }
                deadline ??= new CancellationTokenSource(timeout, server.Options.TimeProvider);
                linked ??= CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                try
                {
                    await wait!.WaitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return null;
                }
            }
        }
        finally
        {
            linked?.Dispose();
            deadline?.Dispose();
        }
    }

    /// <summary>A stream on the least busy link with room; otherwise null, and <paramref name="wait"/> completes when a link is added.</summary>
    private MuxStream? TryOpen(string url, string clientAddress, out Task? wait)
    {
        lock (_gate)
        {
            while (true)
            {
                var best = LeastBusy(out var full);
                if (best is null)
                {
                    if (full > 0)
                    {
                        // Captured here only (a closure on this path alone): opening a stream allocates none.
                        var links = full;
                        server.Connections.Throttle.Warn("link-streams", suppressed => ServerLog.LinksFull(logger, connectionId, label, links, server.Options.MaxStreamsPerLink, suppressed));
                    }
                    _linkAdded ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _linkAdded.Task;
                    return null;
                }
                try
                {
                    wait = null;
                    return best.Open(url, clientAddress);
                }
                catch (IOException)
                {
                    // It closed just now (it counts as closed from here on): try the next one.
                    continue;
                }
            }
        }
    }

    private MuxLink? LeastBusy(out int full)
    {
        MuxLink? best = null;
        full = 0;
        foreach (var link in _links)
        {
            if (link.IsClosed)
            {
                continue;
            }
            if (link.IsFull)
            {
                full++;
            }
            else if (best is null || link.StreamCount < best.StreamCount)
            {
                best = link;
            }
        }
        return best;
    }

    /// <summary>Test hook: closes every link, as a network failure would.</summary>
    public void CloseAllForTest()
    {
        lock (_gate)
        {
            foreach (var link in _links)
            {
                link.Close("closed by a test");
            }
        }
    }

    /// <summary>Closes every link; a visitor waiting for one gets none, and no link is added any more.</summary>
    public async ValueTask DisposeAsync()
    {
        MuxLink[] links;
        lock (_gate)
        {
            _closed = true;
            links = [.. _links];
            _links.Clear();
            var added = _linkAdded;
            _linkAdded = null;
            added?.TrySetCanceled();
        }
        foreach (var link in links)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }
    }
}
