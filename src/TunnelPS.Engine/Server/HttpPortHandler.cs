using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>One connection accepted on the plain HTTP port: a public HTTP connection from its first byte.</summary>
internal static class HttpPortHandler
{
    public static async Task RunAsync(TunnelServer server, Socket socket, ILogger logger, CancellationToken token)
    {
        var id = server.NextConnectionId();
        var remote = socket.RemoteEndPoint;
        try
        {
            if (server.Options.InlineSocketCompletions)
            {
                InlineCompletions.TryEnable(socket);
            }
            var stream = new NetworkStream(socket, ownsSocket: true);
            await new PublicHttpConnection(server, stream, "http", remote, id, logger).RunAsync(token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // One connection's failure must never reach the accept loop or the host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.ConnectionClosed(logger, id, ListenerSocket.Describe(remote), ex.Message);
            socket.Dispose();
        }
    }
}
