using System.Net.Security;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Client;

/// <summary>One control connection: the stream, a write lock, the tunnel requests awaiting answers, and the pong signal.</summary>
internal sealed class ControlConnection(SslStream stream) : IAsyncDisposable
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<(string ReqId, PendingRequest Pending)> _pending = [];
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _pong = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closed;

    public SslStream Stream => stream;
    public Task<string> Ended => _ended.Task;

    /// <summary>The multiplexed links of this connection's session, when the server took them.</summary>
    public ClientLinks? Links { get; set; }
    public string? AbortReason { get; private set; }

    public PendingRequest AddPending(string reqId, int expected)
    {
        var pending = new PendingRequest(expected);
        lock (_pending)
        {
            _pending.Add((reqId, pending));
        }
        return pending;
    }

    /// <summary>Matches a NewTunnel to its request: by ReqId, or (ngrokd sends failures without one) the oldest open request.</summary>
    public void Answer(NewTunnel answer)
    {
        lock (_pending)
        {
            var index = string.IsNullOrEmpty(answer.ReqId) ? (_pending.Count > 0 ? 0 : -1) : _pending.FindIndex(p => p.ReqId == answer.ReqId);
            if (index < 0)
            {
                return;
            }
            var pending = _pending[index].Pending;
            if (pending.Add(answer))
            {
                _pending.RemoveAt(index);
            }
        }
    }

    public async Task SendAsync(Message message, CancellationToken token)
    {
        var frame = FrameCodec.Encode(message);
        await _writeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(frame, token).ConfigureAwait(false);
            await stream.FlushAsync(token).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task ArmPong()
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pong, next);
        return next.Task;
    }

    public void PongReceived() => Volatile.Read(ref _pong).TrySetResult();

    public void Abort(string reason)
    {
        AbortReason ??= reason;
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            stream.Dispose();
        }
    }

    public void End(string reason)
    {
        _ended.TrySetResult(reason);
        lock (_pending)
        {
            foreach (var (_, pending) in _pending)
            {
                pending.Completion.TrySetException(new TunnelConnectionException("The control connection closed before the server answered the tunnel request: " + reason));
            }
            _pending.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Links is { } links)
        {
            await links.DisposeAsync().ConfigureAwait(false);
        }
        // Closed once, by whoever comes first: the receive loop's abort and a stop can come at the same moment, and two
        // disposals of one TLS stream at once fail inside the runtime (a NullReferenceException out of Stop-Tunnel).
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>The NewTunnel answers one ReqTunnel is waiting for (one per protocol, or the first error).</summary>
internal sealed class PendingRequest(int expected)
{
    private readonly List<NewTunnel> _answers = [];

    public TaskCompletionSource<IReadOnlyList<NewTunnel>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Adds an answer; true when the request is complete.</summary>
    public bool Add(NewTunnel answer)
    {
        _answers.Add(answer);
        if (!string.IsNullOrEmpty(answer.Error) || _answers.Count >= expected)
        {
            Completion.TrySetResult([.. _answers]);
            return true;
        }
        return false;
    }
}
