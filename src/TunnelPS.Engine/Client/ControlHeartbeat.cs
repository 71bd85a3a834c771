using System.Globalization;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Client;

/// <summary>
/// The client's heartbeat on one control connection: a Ping every <see cref="TunnelClientOptions.HeartbeatInterval"/>,
/// and the connection aborted when the Pong does not come within <see cref="TunnelClientOptions.PongTimeout"/>. Both
/// waits run on the options' <see cref="TimeProvider"/>.
/// </summary>
internal static class ControlHeartbeat
{
    /// <param name="onPingSent">Called after each Ping is written (counted for tests).</param>
    public static async Task RunAsync(ControlConnection control, TunnelClientOptions options, Action onPingSent, CancellationToken token)
    {
        try
        {
            while (!token.IsCancellationRequested && !control.Ended.IsCompleted)
            {
                await Task.WhenAny(Task.Delay(options.HeartbeatInterval, options.TimeProvider, token), control.Ended).ConfigureAwait(false);
                if (control.Ended.IsCompleted || token.IsCancellationRequested)
                {
                    return;
                }
                var pong = control.ArmPong();
                await control.SendAsync(new Ping(), token).ConfigureAwait(false);
                onPingSent();
                var answered = await Task.WhenAny(pong, Task.Delay(options.PongTimeout, options.TimeProvider, token), control.Ended).ConfigureAwait(false);
                if (answered != pong && !control.Ended.IsCompleted && !token.IsCancellationRequested)
                {
                    control.Abort(string.Create(CultureInfo.InvariantCulture, $"no heartbeat answer from the server within {options.PongTimeout.TotalSeconds:0} s"));
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            control.Abort("heartbeat failed: " + ex.Message);
        }
    }
}
