namespace TunnelPS.Engine.Client;

/// <summary>
/// Finds out what stands between this client and its tunnel server, step by step like <c>ngrok diagnose</c>: for each
/// server address, Resolve, Connect, ProxyConnect, Tls, Protocol, Auth and Latency, each with its outcome, duration and
/// a hint. The steps are the ones the client itself takes (the same dialer, CONNECT code and certificate check), run
/// one at a time with a deadline each. After a failed step the ones that depend on it are skipped.
/// </summary>
public static class ConnectivityProbe
{
    /// <summary>
    /// Checks every server of <paramref name="options"/> in order; <paramref name="onStep"/> (if given) sees each step
    /// as it completes, on a thread-pool thread. Returns every step. Only <paramref name="cancellationToken"/> ends it
    /// early (with an <see cref="OperationCanceledException"/>): a failure of the server or the network is a step's outcome.
    /// </summary>
    public static async Task<IReadOnlyList<ConnectivityStep>> RunAsync(ConnectivityProbeOptions options, Action<ConnectivityStep>? onStep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var steps = new List<ConnectivityStep>(options.Servers.Count * 7);
        foreach (var server in options.Servers)
        {
            await using var check = new ServerConnectivityCheck(options, server, step =>
            {
                steps.Add(step);
                onStep?.Invoke(step);
            });
            await check.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        return steps;
    }
}
