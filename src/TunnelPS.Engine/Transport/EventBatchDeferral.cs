using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Moves a link's write to the end of the runtime's current batch of socket events, so that the answers to many
/// events leave in one send.
/// <para>
/// With inline completions (<see cref="InlineCompletions"/>) one thread handles every socket's events in turn, a batch
/// of up to a thousand per wait: 32 keep-alive visitors' requests on the server, or 32 responses from the local service
/// on the client, arrive in one batch. Each event's handler writes to the link, and a link that drained at once sent
/// one TLS record per event: one send, and one wake-up of the peer, per request. A writer on that thread now hands the
/// link to this class, which signals itself over a local socket pair: the signal is an event of the next wait, after
/// the rest of this batch, and handling it writes each waiting link once, everything queued since in one send.
/// </para>
/// <para>
/// It works only on the event thread (a writer elsewhere drains at once, as before), only where inline completions
/// exist, and it switches itself off for good, draining what waits, if its socket pair ever fails.
/// </para>
/// </summary>
internal sealed class EventBatchDeferral
{
    private static readonly Lazy<EventBatchDeferral?> s_shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True on the thread that runs inline socket completions (known once this class's first signal arrived).</summary>
    [ThreadStatic]
    private static bool t_onEventThread;

    private readonly Socket _signal;
    private readonly Socket _wake;
    // A ring buffer under a lock: no allocation per deferral (a concurrent queue allocated a segment every few dozen).
    private readonly Queue<Action> _waiting = new();
    private readonly byte[] _one = [1];
    private int _signalled;
    private volatile bool _failed;
    private volatile bool _started;

    private EventBatchDeferral(Socket signal, Socket wake)
    {
        _signal = signal;
        _wake = wake;
    }

    /// <summary>The process's deferral, or null where inline completions are not available.</summary>
    public static EventBatchDeferral? Shared => InlineCompletions.IsWorthwhile ? s_shared.Value : null;

    /// <summary>True once the event thread is known (its first signal arrived there): deferral can happen.</summary>
    public bool IsStarted => _started;

    /// <summary>Why deferral stopped for good (its signal socket failed), or null while it works.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>The loop that runs deferred work; it never faults (a failure stops deferral, see <see cref="FailureReason"/>).</summary>
    private Task _running = Task.CompletedTask;

    /// <summary>The loop that runs deferred work (completed once deferral stopped).</summary>
    internal Task Loop => _running;

    /// <summary>
    /// Runs <paramref name="flush"/> after the current batch of socket events when called on the event thread, and
    /// returns true; returns false (the caller runs it now) anywhere else. <paramref name="flush"/> must not throw: it
    /// runs on the event thread, between other sockets' events.
    /// </summary>
    public bool TryDefer(Action flush)
    {
        if (!t_onEventThread || _failed)
        {
            return false;
        }
        lock (_waiting)
        {
            _waiting.Enqueue(flush);
        }
        if (_failed)
        {
            // Failed while this was queued: nobody else will run it.
            RunWaiting();
            return true;
        }
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            try
            {
                // A Unix socket delivers at once, in this call: the next wait finds the signal readable.
                _signal.Send(_one);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                FailureReason = ex.Message;
                Fail();
            }
        }
        return true;
    }

    private static EventBatchDeferral? Create()
    {
        if (!OperatingSystem.IsLinux() || !Socket.OSSupportsUnixDomainSockets)
        {
            return null;
        }
        Socket? listener = null;
        Socket? signal = null;
        Socket? wake = null;
        try
        {
            // An abstract address (leading NUL): no file, gone with the process.
            var address = new UnixDomainSocketEndPoint("\0tunnelps-batch-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N"));
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(address);
            listener.Listen(1);
            signal = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            signal.Connect(address);
            wake = listener.Accept();
            signal.Blocking = false;
            if (!InlineCompletions.TryEnable(wake))
            {
                signal.Dispose();
                wake.Dispose();
                return null;
            }
            var deferral = new EventBatchDeferral(signal, wake);
            deferral._running = deferral.RunAsync();
            // The first signal tells the event thread who it is.
            signal.Send(deferral._one);
            return deferral;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or PlatformNotSupportedException)
        {
            // Handled: no deferral in this process (Shared is null), every writer drains at once.
            signal?.Dispose();
            wake?.Dispose();
            return null;
        }
        finally
        {
            listener?.Dispose();
        }
    }

    private async Task RunAsync()
    {
        var buffer = new byte[64];
        try
        {
            while (true)
            {
                // The Memory overload: a reusable awaitable, no Task per receive.
                var n = await _wake.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    FailureReason = "its signal socket was closed";
                    break;
                }
                // Inline completions resume here on the event thread (a thread-pool thread only if the runtime queued
                // it, in which case nothing is ever deferred: the flag stays false on the event thread).
                if (!Thread.CurrentThread.IsThreadPoolThread)
                {
                    t_onEventThread = true;
                    _started = true;
                }
                Volatile.Write(ref _signalled, 0);
                RunWaiting();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // Handled: deferral stops for good, and every writer drains at once from now on (below).
            FailureReason = ex.Message;
        }
        Fail();
    }

    /// <summary>
    /// Runs what waits. A flush never throws (the contract of <see cref="TryDefer"/>: a link's drain closes the link on
    /// its own failures), so one link's flush cannot keep the others' from running.
    /// </summary>
    private void RunWaiting()
    {
        while (true)
        {
            Action? flush;
            lock (_waiting)
            {
                if (!_waiting.TryDequeue(out flush))
                {
                    return;
                }
            }
            flush();
        }
    }

    private void Fail()
    {
        _failed = true;
        RunWaiting();
    }
}
