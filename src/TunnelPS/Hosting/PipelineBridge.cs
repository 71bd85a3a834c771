using System.Diagnostics;
using System.Management.Automation;
using System.Threading.Channels;

namespace TunnelPS.Hosting;

/// <summary>
/// Carries writes from engine callbacks (background threads) to the pipeline thread, the
/// only thread allowed to call WriteObject/WriteVerbose/WriteError.
/// </summary>
/// <remarks>
/// Queue-and-drain, as PSResourceGet does it: callbacks <see cref="TryPost"/> a write into a
/// bounded queue; <see cref="RunAndDrain{T}"/> runs the engine work on the thread pool and,
/// on the pipeline thread, executes queued writes in order until the work completes. A write
/// that finds the queue full is dropped and counted (engine callbacks never wait on the
/// pipeline), and the drops are reported. Nothing here is unbounded.
/// </remarks>
internal sealed class PipelineBridge : IDisposable
{
    /// <summary>How many writes may wait for the pipeline thread.</summary>
    internal const int DefaultCapacity = 1024;

    private readonly Channel<Action<PSCmdlet>> _queue;
    private Task<bool>? _itemAvailable;
    private long _droppedCount;
    private long _reportedDroppedCount;
    private volatile bool _isDisposed;

    /// <summary>Creates a bridge owned by the calling thread, which must be the pipeline thread.</summary>
    internal PipelineBridge(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _queue = Channel.CreateBounded<Action<PSCmdlet>>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>How long a stopped pipeline waits for the work to observe cancellation before giving up on it.</summary>
    internal TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Writes dropped by <see cref="TryPost"/>: the queue was full or the bridge closed.</summary>
    internal long DroppedCount => Interlocked.Read(ref _droppedCount);

    /// <summary>Queues a write if there is room; otherwise drops it, counts the drop and returns false.</summary>
    internal bool TryPost(Action<PSCmdlet> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (!_isDisposed && _queue.Writer.TryWrite(write))
        {
            return true;
        }

        Interlocked.Increment(ref _droppedCount);
        return false;
    }

    /// <summary>Queues a verbose message; dropped when the queue is full.</summary>
    internal bool PostVerbose(string message) => TryPost(cmdlet => cmdlet.WriteVerbose(message));

    /// <summary>Queues a debug message; dropped when the queue is full.</summary>
    internal bool PostDebug(string message) => TryPost(cmdlet => cmdlet.WriteDebug(message));

    /// <summary>
    /// Runs <paramref name="work"/> on the thread pool and, on the calling (pipeline) thread,
    /// executes queued writes until it completes; returns its result.
    /// </summary>
    /// <remarks>
    /// When <paramref name="cancellationToken"/> is cancelled (StopProcessing), the work is
    /// expected to finish promptly with an <see cref="OperationCanceledException"/>; the bridge
    /// keeps draining for <see cref="StopGracePeriod"/> and then gives up on it. Either way the
    /// caller sees a <see cref="PipelineStoppedException"/>, and a task given up on is still
    /// observed so that its failure cannot go unobserved.
    /// </remarks>
    internal T RunAndDrain<T>(PSCmdlet cmdlet, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_isDisposed, this);

        Task<T> task = Task.Run(() => work(cancellationToken), CancellationToken.None);
        try
        {
            DrainUntilCompleted(cmdlet, task, cancellationToken);
        }
        catch
        {
            Observe(task);
            throw;
        }

        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>The same as <see cref="RunAndDrain{T}"/> for work without a result.</summary>
    internal void RunAndDrain(PSCmdlet cmdlet, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        RunAndDrain<bool>(
            cmdlet,
            async ct =>
            {
                await work(ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>Executes every write queued so far, on the calling (pipeline) thread.</summary>
    internal void Drain(PSCmdlet cmdlet)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        while (_queue.Reader.TryRead(out Action<PSCmdlet>? write))
        {
            write(cmdlet);
        }

        long dropped = Interlocked.Read(ref _droppedCount);
        if (dropped != _reportedDroppedCount)
        {
            cmdlet.WriteWarning($"{dropped - _reportedDroppedCount} verbose or debug message(s) were dropped because the pipeline fell behind the engine.");
            _reportedDroppedCount = dropped;
        }
    }

    /// <summary>Closes the queue: later posts are dropped, posts waiting for room give up.</summary>
    public void Dispose()
    {
        if (_isDisposed)
        {
            return;
        }

        _isDisposed = true;
        _queue.Writer.TryComplete();
    }

    private void DrainUntilCompleted(PSCmdlet cmdlet, Task work, CancellationToken cancellationToken)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = cancellationToken.Register(
            static state => ((TaskCompletionSource)state!).TrySetResult(), stopped);
        long? stopTimestamp = null;

        while (true)
        {
            Drain(cmdlet);
            if (work.IsCompleted)
            {
                break;
            }

            // One outstanding read-wait is kept across loops and calls, never one per loop.
            _itemAvailable ??= _queue.Reader.WaitToReadAsync(CancellationToken.None).AsTask();

            if (!stopped.Task.IsCompleted)
            {
                Task.WaitAny(work, _itemAvailable, stopped.Task);
            }
            else
            {
                stopTimestamp ??= Stopwatch.GetTimestamp();
                TimeSpan left = StopGracePeriod - Stopwatch.GetElapsedTime(stopTimestamp.Value);
                if (left <= TimeSpan.Zero)
                {
                    throw new PipelineStoppedException();
                }

                Task.WaitAny([work, _itemAvailable], left);
            }

            if (_itemAvailable.IsCompleted)
            {
                _itemAvailable = null;
            }
        }

        Drain(cmdlet);
    }

    private static void Observe(Task task) =>
        task.ContinueWith(
            static t => _ = t.Exception,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
}
