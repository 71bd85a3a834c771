using System.Threading.Channels;

namespace TunnelPS.Engine.Display;

/// <summary>
/// Runs the status view of a <see cref="TunnelActivity"/> until every URL has stopped or the token is cancelled:
/// the full screen (<see cref="RunScreenAsync"/>) on an interactive terminal, plain lines (<see cref="RunLinesAsync"/>)
/// elsewhere.
/// </summary>
public static class StatusView
{
    /// <summary>The least time between two frames (changes in between are drawn together).</summary>
    public static readonly TimeSpan MinimumFrameInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The screen is redrawn at least this often (the per-minute figures age).</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    /// <summary>How many plain lines may wait for the writer; older ones are dropped (and counted) beyond it.</summary>
    public const int LineQueueCapacity = 1024;

    /// <summary>
    /// Draws the screen on <paramref name="terminal"/> in the alternate buffer, redrawn on every change (at most one
    /// frame per <see cref="MinimumFrameInterval"/>) and every <see cref="RefreshInterval"/>, until every URL has
    /// stopped or <paramref name="cancellationToken"/> is cancelled; then leaves the terminal as it was (normal buffer,
    /// cursor shown), whatever ended it. Returns the last snapshot drawn.
    /// </summary>
    /// <param name="activity">What to show.</param>
    /// <param name="screen">How to draw it.</param>
    /// <param name="terminal">The terminal's output.</param>
    /// <param name="size">The terminal's size now (columns, rows).</param>
    /// <param name="timeProvider">The clock for the frame timing.</param>
    /// <param name="cancellationToken">Ends the view (Ctrl+C).</param>
    public static async Task<StatusSnapshot> RunScreenAsync(
        TunnelActivity activity,
        StatusScreen screen,
        TextWriter terminal,
        Func<(int Width, int Height)> size,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(activity);
        ArgumentNullException.ThrowIfNull(screen);
        ArgumentNullException.ThrowIfNull(terminal);
        ArgumentNullException.ThrowIfNull(size);
        ArgumentNullException.ThrowIfNull(timeProvider);

        using var changed = new SemaphoreSlim(0, 1);
        void OnChanged(object? sender, EventArgs e)
        {
            if (changed.CurrentCount == 0)
            {
                try
                {
                    changed.Release();
                }
                catch (SemaphoreFullException)
                {
                    // Another change released it first: one wake-up is enough.
                }
            }
        }

        activity.Changed += OnChanged;
        StatusSnapshot snapshot = activity.Snapshot();
        await terminal.WriteAsync(StatusScreen.Enter).ConfigureAwait(false);
        try
        {
            while (true)
            {
                snapshot = activity.Snapshot();
                (int width, int height) = size();
                await terminal.WriteAsync(screen.RenderFrame(snapshot, width, height)).ConfigureAwait(false);
                await terminal.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                if (snapshot.HasEnded || cancellationToken.IsCancellationRequested)
                {
                    return snapshot;
                }

                try
                {
                    await Task.Delay(MinimumFrameInterval, timeProvider, cancellationToken).ConfigureAwait(false);
                    using var refresh = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    refresh.CancelAfter(RefreshInterval - MinimumFrameInterval);
                    await changed.WaitAsync(refresh.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // The refresh interval passed without a change: redraw for the figures that age.
                }
                catch (OperationCanceledException)
                {
                    return snapshot;
                }
            }
        }
        finally
        {
            activity.Changed -= OnChanged;
            await terminal.WriteAsync(StatusScreen.Leave).ConfigureAwait(false);
            await terminal.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes the opening lines, then one line per session status change and per request through
    /// <paramref name="writeLine"/> (called on this task's thread, in order), until every URL has stopped (a last
    /// "session stopped" line) or <paramref name="cancellationToken"/> is cancelled. Nothing waits for a slow writer:
    /// a line it refuses (false) or that finds <see cref="LineQueueCapacity"/> lines waiting is dropped, and the drops
    /// are counted in a line of their own.
    /// </summary>
    public static async Task RunLinesAsync(
        TunnelActivity activity,
        Func<string, bool> writeLine,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(activity);
        ArgumentNullException.ThrowIfNull(writeLine);
        ArgumentNullException.ThrowIfNull(timeProvider);

        long dropped = 0;
        var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(LineQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        }, _ => Interlocked.Increment(ref dropped));
        object statusGate = new();
        (string Status, string? Error) shown = activity.SessionStatus();

        void OnRequest(object? sender, StatusRequest request) => lines.Writer.TryWrite(StatusLines.Request(request));
        void OnChanged(object? sender, EventArgs e)
        {
            lock (statusGate)
            {
                (string Status, string? Error) now = activity.SessionStatus();
                if (now != shown)
                {
                    shown = now;
                    lines.Writer.TryWrite(StatusLines.StatusChange(timeProvider.GetUtcNow(), now.Status, now.Error));
                }
            }
        }

        foreach (string line in StatusLines.Opening(activity.Snapshot()))
        {
            Write(line);
        }

        activity.RequestSeen += OnRequest;
        activity.Changed += OnChanged;
        try
        {
            OnChanged(null, EventArgs.Empty); // a change between the opening lines and the subscription
            while (!activity.HasEnded)
            {
                using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                poll.CancelAfter(RefreshInterval); // HasEnded is checked at least this often
                try
                {
                    await lines.Reader.WaitToReadAsync(poll.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }

                WriteQueued();
                cancellationToken.ThrowIfCancellationRequested();
            }

            OnChanged(null, EventArgs.Empty);
            WriteQueued();
        }
        finally
        {
            activity.RequestSeen -= OnRequest;
            activity.Changed -= OnChanged;
        }

        void WriteQueued()
        {
            while (lines.Reader.TryRead(out string? line))
            {
                Write(line);
            }

            long lost = Interlocked.Read(ref dropped);
            if (lost > 0 && writeLine($"({lost} line(s) dropped: the output fell behind the traffic)"))
            {
                Interlocked.Add(ref dropped, -lost);
            }
        }

        void Write(string line)
        {
            if (!writeLine(line))
            {
                Interlocked.Increment(ref dropped);
            }
        }
    }
}
