using System.Diagnostics;

namespace TunnelPS.Arm64Check;

/// <summary>Runs named checks in order, prints each one's result, and counts them. A check that depends on an earlier one that failed is counted as failed without running.</summary>
internal sealed class CheckRun
{
    private readonly TimeSpan _deadline;
    private bool _broken;

    public CheckRun(TimeSpan deadline) => _deadline = deadline;

    public int Passed { get; private set; }

    public int Failed { get; private set; }

    /// <param name="name">What the check shows, printed with its result.</param>
    /// <param name="check">Throws when the check fails; gets a token that ends at the check's deadline.</param>
    /// <param name="needsEarlier">False for a check that means something even when an earlier one failed.</param>
    /// <param name="neededLater">False for a check whose failure leaves the later ones meaningful.</param>
    public async Task RunAsync(string name, Func<CancellationToken, Task> check, bool needsEarlier = true, bool neededLater = true)
    {
        if (_broken && needsEarlier)
        {
            Failed++;
            Console.WriteLine($"  FAIL {name}: not run, an earlier check it needs failed");
            return;
        }
        var started = Stopwatch.GetTimestamp();
        using var deadline = new CancellationTokenSource(_deadline);
        try
        {
            await check(deadline.Token).WaitAsync(deadline.Token).ConfigureAwait(false);
            Passed++;
            Console.WriteLine($"  pass {name} ({Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s)");
        }
#pragma warning disable CA1031 // Every failure of a check is reported as that check's result, whatever its type.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Failed++;
            _broken |= neededLater;
            var reason = deadline.IsCancellationRequested ? $"no result within {_deadline.TotalSeconds:0} s" : ex.GetType().Name + ": " + ex.Message;
            Console.WriteLine($"  FAIL {name}: {reason}");
        }
    }
}
