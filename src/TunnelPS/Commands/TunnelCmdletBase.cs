using System.Management.Automation;
using TunnelPS.Hosting;

namespace TunnelPS.Commands;

/// <summary>
/// The base of TunnelPS cmdlets that call the engine: owns the cancellation source that
/// StopProcessing (Ctrl+C) cancels and the <see cref="PipelineBridge"/> that brings engine
/// callbacks back to the pipeline thread.
/// </summary>
/// <remarks>
/// A derived cmdlet that overrides BeginProcessing, StopProcessing or EndProcessing calls
/// the base method (BeginProcessing first, EndProcessing last). Public only because the
/// public cmdlet classes derive from it.
/// </remarks>
public abstract class TunnelCmdletBase : PSCmdlet, IDisposable
{
    private CancellationTokenSource? _cancellation;
    private PipelineBridge? _bridge;
    private bool _isDisposed;

    /// <summary>Cancelled when the pipeline is stopped.</summary>
    protected CancellationToken CancellationToken =>
        (_cancellation ?? throw NotBegun()).Token;

    /// <summary>The queue that engine callbacks post their writes to.</summary>
    internal PipelineBridge Bridge => _bridge ?? throw NotBegun();

    /// <summary>Runs engine work, draining its queued writes on the pipeline thread, and returns its result.</summary>
    protected T RunAndDrain<T>(Func<CancellationToken, Task<T>> work) =>
        Bridge.RunAndDrain(this, work, CancellationToken);

    /// <summary>Runs engine work without a result, draining its queued writes on the pipeline thread.</summary>
    protected void RunAndDrain(Func<CancellationToken, Task> work) =>
        Bridge.RunAndDrain(this, work, CancellationToken);

    /// <summary>Creates the cancellation source and the bridge.</summary>
    protected override void BeginProcessing()
    {
        _cancellation = new CancellationTokenSource();
        _bridge = new PipelineBridge();
    }

    /// <summary>Cancels the engine work of this invocation.</summary>
    protected override void StopProcessing()
    {
        try
        {
            _cancellation?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Stop raced with the end of the command: nothing left to cancel.
        }
    }

    /// <summary>Writes whatever is still queued, then releases the cancellation source and the bridge.</summary>
    protected override void EndProcessing()
    {
        _bridge?.Drain(this);
        ReleaseResources();
    }

    /// <summary>Releases the cancellation source and the bridge if EndProcessing did not run (error or stop).</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources; derived cmdlets that own more override and call the base.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_isDisposed)
        {
            return;
        }

        if (disposing)
        {
            ReleaseResources();
        }

        _isDisposed = true;
    }

    private void ReleaseResources()
    {
        _bridge?.Dispose();
        _cancellation?.Dispose();
    }

    private static InvalidOperationException NotBegun() =>
        new("TunnelCmdletBase.BeginProcessing has not run; a derived cmdlet that overrides BeginProcessing must call base.BeginProcessing() first.");
}
