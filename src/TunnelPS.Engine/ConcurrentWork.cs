using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine;

/// <summary>
/// The background tasks an engine object owns: each one is observed and waited for when the object stops. Nothing is
/// started and forgotten. A fault is logged with the operation that failed: at Debug when a peer or a stop ends the
/// work the expected way (a socket, I/O, TLS or cancellation error), at Warning otherwise (a defect), the first
/// <see cref="WarningsInFull"/> in full, then one in every <see cref="WarningEvery"/> with the count skipped, so a peer
/// that can provoke a fault cannot flood the log.
/// </summary>
internal sealed partial class ConcurrentWork
{
    /// <summary>Unexpected faults logged one by one before the log thins out.</summary>
    internal const int WarningsInFull = 10;

    /// <summary>Past <see cref="WarningsInFull"/>, one unexpected fault in this many is logged.</summary>
    internal const int WarningEvery = 1000;

    private readonly ConcurrentDictionary<Task, string?> _tasks = new();
    private readonly ILogger _logger;
    private long _unexpected;

    public ConcurrentWork(ILogger logger) => _logger = logger;

    /// <summary>Tasks still running.</summary>
    public int Count => _tasks.Count;

    /// <summary>Unexpected faults observed so far (logged at Warning, or counted while the log is thinned).</summary>
    public long UnexpectedFaults => Interlocked.Read(ref _unexpected);

    /// <summary>
    /// Observes <paramref name="task"/> until it ends. A log line names it <paramref name="operation"/> if it faults, or,
    /// without one, after the async method that made it (found only then, so tracking costs nothing more).
    /// </summary>
    public void Track(Task task, string? operation = null)
    {
        _tasks.TryAdd(task, operation);
        _ = task.ContinueWith(static (t, state) => ((ConcurrentWork)state!).Ended(t), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes when every task running now has ended (whatever its outcome).</summary>
    public Task WhenAll() => Task.WhenAll(_tasks.Keys.Select(static t => t.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)));

    private void Ended(Task task)
    {
        _tasks.TryRemove(task, out var operation);
        if (task.Exception is not { } aggregate)
        {
            return;
        }
        operation ??= NameOf(task);
        var fault = aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate;
        if (IsExpected(fault))
        {
            ExpectedFault(_logger, operation, fault.GetType().Name, fault.Message);
            return;
        }
        var count = Interlocked.Increment(ref _unexpected);
        if (count <= WarningsInFull || (count - WarningsInFull) % WarningEvery == 0)
        {
            UnexpectedFault(_logger, operation, count <= WarningsInFull ? 0 : WarningEvery - 1, fault);
        }
    }

    /// <summary>"Type.Method" of the async method whose task this is (its state machine's outer type and name), or the task's type.</summary>
    internal static string NameOf(Task task)
    {
        var type = task.GetType();
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                if (typeof(IAsyncStateMachine).IsAssignableFrom(argument) && argument.DeclaringType is { } owner)
                {
                    var name = argument.Name;
                    var end = name.IndexOf('>', StringComparison.Ordinal);
                    return owner.Name + "." + (name.StartsWith('<') && end > 1 ? name[1..end] : name);
                }
            }
        }
        return type.Name;
    }

    private static bool IsExpected(Exception fault) => fault switch
    {
        AggregateException many => many.InnerExceptions.All(IsExpected),
        OperationCanceledException or ObjectDisposedException or IOException or SocketException or AuthenticationException => true,
        _ => false,
    };

    [LoggerMessage(9000, LogLevel.Debug, "Background operation {Operation} ended with {Kind}: {Reason} (a peer or a stop ended it)")]
    private static partial void ExpectedFault(ILogger logger, string operation, string kind, string reason);

    [LoggerMessage(9001, LogLevel.Warning, "Background operation {Operation} failed ({Skipped} similar failures not logged since the last one)")]
    private static partial void UnexpectedFault(ILogger logger, string operation, long skipped, Exception exception);
}
