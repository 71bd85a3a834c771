using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;

namespace TunnelPS.Engine.Client;

/// <summary>
/// Logs a client in again after its control connection ended: with back-off and jitter (<see cref="ReconnectPolicy"/>,
/// on the options' clock), to the next node of a cluster each time, until a login works or the client stops. A token
/// refused after it was accepted once is retried too (the admin may put it back).
/// </summary>
/// <param name="connect">Dials, logs in and reopens the tunnels, within the token it is given.</param>
/// <param name="onAttemptFailed">Records why an attempt failed (the client's <see cref="TunnelClient.Error"/>).</param>
internal sealed class ReconnectLoop(
    TunnelClientOptions options,
    ServerRotation servers,
    EndpointTable endpoints,
    ILogger logger,
    Func<CancellationToken, Task<ControlConnection>> connect,
    Action<Exception> onAttemptFailed)
{
    /// <summary>Returns the new control connection; throws OperationCanceledException when the client stops first.</summary>
    /// <param name="reason">Why the last connection ended (logged with the first attempt).</param>
    public async Task<ControlConnection> RunAsync(string reason, CancellationToken token)
    {
        var refused = false;
        for (var attempt = 0; ; attempt++)
        {
            var delay = ReconnectPolicy.Delay(attempt, options.ReconnectMinDelay, options.ReconnectMaxDelay);
            // With several nodes, each attempt goes to the next one: a node that went away is not waited for.
            servers.Next();
            if (refused)
            {
                ClientLog.LoginRefusedRetrying(logger, reason, servers.Current.ToString(), (long)delay.TotalMilliseconds);
            }
            else
            {
                ClientLog.Reconnecting(logger, servers.Current.ToString(), reason, (long)delay.TotalMilliseconds);
            }
            await Task.Delay(delay, options.TimeProvider, token).ConfigureAwait(false);
            try
            {
                using var timeout = new CancellationTokenSource(options.StartTimeout, options.TimeProvider);
                using var attemptToken = CancellationTokenSource.CreateLinkedTokenSource(token, timeout.Token);
                return await connect(attemptToken.Token).ConfigureAwait(false);
            }
            catch (TunnelAuthenticationException ex)
            {
                // Refused after this client was accepted: the token was removed, or the server's token file is being
                // rewritten, or the token is at its session limit for a moment. The admin may put it back, so the client
                // keeps trying with back-off, the server's reason on the client and every URL.
                // (A token refused at the very first login fails StartAsync at once instead.)
                refused = true;
                TunnelMetrics.LoginRefusals.Add(1);
                reason = ex.Message;
                onAttemptFailed(ex);
                endpoints.SetAll(TunnelStatus.Reconnecting, reason);
            }
            catch (Exception ex) when (ex is TunnelException or IOException or System.Net.Sockets.SocketException or OperationCanceledException && !token.IsCancellationRequested)
            {
                refused = false;
                reason = ex.Message;
                onAttemptFailed(ex);
            }
        }
    }
}
