using System.Net.Sockets;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The live stream of one connection after GET /api/events answered: events as Server-Sent Events (and the hub's
/// keep-alive comments), each write under the write deadline. Ends when the client
/// closes, falls too far behind, or the inspector stops.
/// </summary>
internal sealed class InspectorEventStream(InspectorServer server, InspectorConnection connection, NetworkStream stream)
{
    /// <summary>Streams until the end; returns why it ended.</summary>
    public async Task<string> RunAsync(CancellationToken stopping)
    {
        var subscriber = server.Events.Subscribe();
        if (subscriber is null)
        {
            return "the inspector stopped";
        }
        try
        {
            // The browser reconnects after 2 s; "ready" tells the page it may load the list (nothing is missed from here on).
            await WriteAsync("retry: 2000\n\n"u8.ToArray(), stopping).ConfigureAwait(false);
            await WriteAsync(InspectorEvents.Encode("ready", "{}"u8.ToArray()), stopping).ConfigureAwait(false);

            // The client sends nothing on a stream: a read that ends means it closed.
            var closed = stream.ReadAsync(new byte[1], stopping).AsTask();
            var reader = subscriber.Events.Reader;
            while (true)
            {
                var ready = reader.WaitToReadAsync(stopping).AsTask();
                if (await Task.WhenAny(ready, closed).ConfigureAwait(false) == closed)
                {
                    Observe(ready);
                    return "the client closed the stream";
                }
                if (!await ready.ConfigureAwait(false))
                {
                    Observe(closed);
                    if (subscriber.Lagged)
                    {
                        InspectorLog.StreamLagged(server.Logger, connection.Id, server.Options.MaxEventBacklog);
                        return "the stream fell too far behind";
                    }
                    return "the inspector stopped";
                }
                while (reader.TryRead(out var encoded))
                {
                    await WriteAsync(encoded, stopping).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            server.Events.Unsubscribe(subscriber);
        }
    }

    private async Task WriteAsync(byte[] bytes, CancellationToken stopping)
    {
        connection.SetDeadline(server.Options.WriteTimeout, "write");
        await stream.WriteAsync(bytes, stopping).ConfigureAwait(false);
        connection.SetDeadline(Timeout.InfiniteTimeSpan, string.Empty);
    }

    /// <summary>A wait given up on still has its outcome observed.</summary>
    private static void Observe(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
