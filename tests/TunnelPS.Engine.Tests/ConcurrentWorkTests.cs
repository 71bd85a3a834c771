using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests;

/// <summary>
/// The background work an engine object owns is observed, and a fault is logged with the operation's name: at Debug
/// when a peer or a stop ended it, at Warning (thinned) when it is a defect.
/// </summary>
public sealed class ConcurrentWorkTests
{
    [Fact]
    public async Task An_unexpected_fault_is_a_warning_that_names_the_async_method()
    {
        var logger = new FakeLogger();
        var work = new ConcurrentWork(logger);

        work.Track(PumpAsync());
        await TunnelHarness.WaitUntilAsync(() => logger.Collector.Count > 0, "the fault was logged");

        var record = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Equal(9001, record.Id.Id);
        Assert.Contains("Background operation ConcurrentWorkTests.PumpAsync failed", record.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(record.Exception);
        Assert.Equal(1, work.UnexpectedFaults);
    }

    [Fact]
    public void A_fault_a_peer_or_a_stop_causes_is_logged_at_debug_with_its_reason()
    {
        var logger = new FakeLogger();
        var work = new ConcurrentWork(logger);

        work.Track(Failing(new IOException("connection reset by peer")), "visitor 7");
        work.Track(Failing(new SocketException((int)SocketError.ConnectionReset)), "visitor 8");
        work.Track(Task.FromCanceled(new CancellationToken(canceled: true)), "stopped loop");

        var records = logger.Collector.GetSnapshot();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.Contains("visitor 7 ended with IOException: connection reset by peer", records[0].Message, StringComparison.Ordinal);
        Assert.Contains("visitor 8 ended with SocketException", records[1].Message, StringComparison.Ordinal);
        Assert.Equal(0, work.UnexpectedFaults);
    }

    [Fact]
    public void Past_the_first_warnings_one_fault_in_a_thousand_is_logged_with_the_count_skipped()
    {
        var logger = new FakeLogger();
        var work = new ConcurrentWork(logger);

        for (var i = 0; i < ConcurrentWork.WarningsInFull + (2 * ConcurrentWork.WarningEvery); i++)
        {
            work.Track(Failing(new InvalidOperationException("defect " + i)), "handler");
        }

        var warnings = logger.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning).ToList();
        Assert.Equal(ConcurrentWork.WarningsInFull + 2, warnings.Count);
        Assert.Contains("(999 similar failures not logged since the last one)", warnings[^1].Message, StringComparison.Ordinal);
        Assert.Equal(ConcurrentWork.WarningsInFull + (2 * ConcurrentWork.WarningEvery), work.UnexpectedFaults);
    }

    [Fact]
    public async Task Running_work_is_counted_and_waited_for()
    {
        var work = new ConcurrentWork(new FakeLogger());
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        work.Track(gate.Task, "gate");
        var all = work.WhenAll();

        Assert.Equal(1, work.Count);
        Assert.False(all.IsCompleted);
        gate.SetException(new IOException("closed"));
        await all.WaitAsync(TimeSpan.FromSeconds(20));
        await TunnelHarness.WaitUntilAsync(() => work.Count == 0, "the ended task has left the count");
    }

    private static async Task PumpAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("the pump broke");
    }

    private static Task Failing(Exception exception) => Task.FromException(exception);
}
