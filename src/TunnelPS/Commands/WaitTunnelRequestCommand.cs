using System.Management.Automation;
using TunnelPS.Completers;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Wait-TunnelRequest</c>: blocks until an exchange matching the filters completes after the
/// call starts, and writes it. A timeout is a terminating OperationTimeout error (WaitTimedOut);
/// Ctrl+C stops the wait.
/// </summary>
[Cmdlet(VerbsLifecycle.Wait, "TunnelRequest")]
[OutputType(typeof(TunnelRequest))]
public sealed class WaitTunnelRequestCommand : TunnelRequestFilterCommand
{
    /// <summary>Only requests of tunnels with these names (wildcards allowed).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HttpTunnelNameCompleter))]
    public string[]? Tunnel { get; set; }

    /// <summary>How long to wait: a TimeSpan or a number of seconds. Default: no limit.</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan Timeout { get; set; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>Waits for the first matching exchange and writes it.</summary>
    protected override void ProcessRecord()
    {
        if (Timeout < TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            ThrowTerminatingError(new ErrorRecord(
                new PSArgumentOutOfRangeException(nameof(Timeout), Timeout, "The timeout must not be negative."),
                ErrorIds.InvalidArgument,
                ErrorCategory.InvalidArgument,
                Timeout));
        }

        var stores = CaptureRegistry.Match(Tunnel).Select(s => s.Store).ToList();
        if (Tunnel is null)
        {
            stores.Add(CaptureRegistry.Imported);
        }

        if (stores.Count == 0)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ItemNotFoundException($"No tunnel named '{string.Join("', '", Tunnel!)}' captures requests in this session. Start one with Start-Tunnel -Http, or list them with Get-Tunnel."),
                ErrorIds.TunnelNotFound,
                ErrorCategory.ObjectNotFound,
                Tunnel));
        }

        var filter = CreateFilter(Tunnel);
        TimeSpan timeout = Timeout;
        (CapturedExchange Exchange, CaptureStore Store) found;
        try
        {
            found = RunAndDrain(ct => WaitAsync(stores, filter, timeout, ct));
        }
        catch (TimeoutException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.WaitTimedOut, ErrorCategory.OperationTimeout, null));
            return;
        }

        WriteObject(new TunnelRequest(found.Exchange, found.Store));
    }

    private static async Task<(CapturedExchange, CaptureStore)> WaitAsync(List<CaptureStore> stores, TunnelRequestFilter filter, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            waiting.CancelAfter(timeout);
        }

        var waits = stores.Select(s => s.WaitAsync(filter.IsMatch, waiting.Token)).ToList();
        try
        {
            Task<CapturedExchange> first = await Task.WhenAny(waits).ConfigureAwait(false);
            return (await first.ConfigureAwait(false), stores[waits.IndexOf(first)]);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No matching request completed within {timeout.TotalSeconds:0.###} s.");
        }
        finally
        {
            // Withdraw the other waits from their stores.
            await waiting.CancelAsync().ConfigureAwait(false);
        }
    }
}
