using System.Buffers;
using System.Globalization;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// What the acceptor does with each stream, the same for every variant: "echo" returns what it reads; "source:N" writes
/// N bytes (forever when N is -1) and then waits for the opener to close. A stream ends when the opener closes it.
/// </summary>
internal sealed class AcceptorService
{
    public const string Echo = "echo";

    /// <summary>The visitor address the opener sends with every stream, as the TunnelPS server does.</summary>
    public const string ClientAddress = "203.0.113.7:50123";

    private const int ChunkSize = 64 * 1024;
    private static readonly byte[] s_chunk = new byte[ChunkSize];
    private static readonly byte[] s_sink = new byte[1];

    private int _active;
    private long _sourced;
    private int _failures;

    public static string Source(long bytes) => "source:" + bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>Streams being served now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>Bytes written by "source" streams so far (all of them).</summary>
    public long Sourced => Interlocked.Read(ref _sourced);

    /// <summary>Streams that ended with something other than the opener closing them.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Serves one stream; disposes it when it ends. Never throws.</summary>
    public async Task ServeAsync(Stream stream, string purpose)
    {
        Interlocked.Increment(ref _active);
        try
        {
            if (purpose == Echo)
            {
                // Pooled, so that the allocation per stream is the multiplexer's and TLS's, not this service's.
                var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    int n;
                    while ((n = await stream.ReadAsync(buffer)) > 0)
                    {
                        await stream.WriteAsync(buffer.AsMemory(0, n));
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            else if (purpose.StartsWith("source:", StringComparison.Ordinal))
            {
                var left = long.Parse(purpose.AsSpan("source:".Length), CultureInfo.InvariantCulture);
                var forever = left < 0;
                while (forever || left > 0)
                {
                    var n = forever ? ChunkSize : (int)Math.Min(ChunkSize, left);
                    await stream.WriteAsync(s_chunk.AsMemory(0, n));
                    Interlocked.Add(ref _sourced, n);
                    left -= n;
                }
                // Wait for the opener to close (0, or an error when it resets the stream).
                _ = await stream.ReadAsync(s_sink);
            }
            else
            {
                Interlocked.Increment(ref _failures);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The opener closed the stream while this side was writing or reading: the normal end of a stream here.
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failures);
        }
        finally
        {
            try
            {
                await stream.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Waits (up to 10 s) until no stream is served any more, so that one measurement does not run into the next.</summary>
    public async Task<bool> DrainAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Active > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }
        return Active == 0;
    }
}
