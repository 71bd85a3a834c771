using System.Collections.Concurrent;

namespace TunnelPS.Engine;

/// <summary>
/// The background tasks an engine object owns: each one is observed (its exception never goes unobserved) and waited
/// for when the object stops. Nothing is started and forgotten.
/// </summary>
internal sealed class ConcurrentWork
{
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();

    /// <summary>Tasks still running.</summary>
    public int Count => _tasks.Count;

    public void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, state) =>
        {
            _ = t.Exception;
            ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _);
        }, _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes when every task running now has ended (whatever its outcome).</summary>
    public Task WhenAll() => Task.WhenAll(_tasks.Keys.Select(static t => t.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)));
}
