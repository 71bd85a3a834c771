using TunnelPS.Engine.Protocol;

namespace TunnelPS.Engine.Client;

/// <summary>
/// The control connection's receive loop: ReqProxy asks for a proxy connection, NewTunnel answers a tunnel request,
/// Pong answers the heartbeat; anything else ends the connection. When the loop ends, for whatever reason, the
/// connection is ended with it (<see cref="ControlConnection.End"/>), which wakes the client's supervisor.
/// </summary>
internal static class ControlReceiver
{
    /// <param name="onProxyRequested">Answers one ReqProxy (starts a proxy connection; must not block).</param>
    /// <param name="ignorePongs">Test hook: true to ignore Pong messages, as if the server stopped answering.</param>
    public static async Task RunAsync(ControlConnection control, Action onProxyRequested, Func<bool> ignorePongs, CancellationToken token)
    {
        var reason = "the server closed the control connection";
        try
        {
            while (!token.IsCancellationRequested)
            {
                var message = await FrameCodec.ReadAsync(control.Stream, token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        return;
                    case ReqProxy:
                        onProxyRequested();
                        break;
                    case NewTunnel newTunnel:
                        control.Answer(newTunnel);
                        break;
                    case Pong when !ignorePongs():
                        control.PongReceived();
                        break;
                    case Pong:
                        break;
                    default:
                        throw new ProtocolException($"Unexpected {message.Type} message from the server on the control connection.");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ProtocolException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            reason = ex is OperationCanceledException ? "the client is stopping" : ex.Message;
        }
        finally
        {
            control.End(control.AbortReason ?? reason);
        }
    }
}
