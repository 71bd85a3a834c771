using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace TunnelPS.Hosting;

/// <summary>
/// Appends engine log entries to a file as JSON lines (one object per line: time, level, category, message, error),
/// for servers that run in the background or under -Wait on a host. Entries are queued and written by one
/// background task, so logging never holds back tunnel traffic; when the queue is full, entries are dropped and
/// counted, and the count is written as an entry of its own once there is room.
/// </summary>
internal sealed class JsonLinesLogFile : IDisposable
{
    private static readonly string[] s_levels = ["trace", "debug", "information", "warning", "error", "critical"];

    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(4096)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });
    private readonly StreamWriter _writer;
    private readonly Task _pump;
    private long _dropped;

    private JsonLinesLogFile(StreamWriter writer, int minimumLevel)
    {
        _writer = writer;
        MinimumLevel = minimumLevel;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>The path of the file.</summary>
    internal required string Path { get; init; }

    /// <summary>The lowest level written (Microsoft.Extensions.Logging LogLevel values: 1 Debug, 2 Information).</summary>
    internal int MinimumLevel { get; }

    /// <summary>Opens (creating folders and the file as needed) and appends to <paramref name="path"/>.</summary>
    internal static JsonLinesLogFile Open(string path, int minimumLevel)
    {
        string full = System.IO.Path.GetFullPath(path);
        string? folder = System.IO.Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        var stream = new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete);
        return new JsonLinesLogFile(new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = false }, minimumLevel) { Path = full };
    }

    /// <summary>Queues one entry; never blocks.</summary>
    internal void Write(int level, string category, string message, Exception? exception)
    {
        if (level < MinimumLevel || level >= s_levels.Length)
        {
            return;
        }

        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("level", s_levels[level]);
            json.WriteString("category", category);
            json.WriteString("message", message);
            if (exception is not null)
            {
                json.WriteString("error", exception.GetType().Name + ": " + exception.Message);
            }

            json.WriteEndObject();
        }

        if (!_lines.Writer.TryWrite(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task PumpAsync()
    {
        try
        {
            while (await _lines.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_lines.Reader.TryRead(out string? line))
                {
                    await _writer.WriteLineAsync(line).ConfigureAwait(false);
                }

                long dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0)
                {
                    await _writer.WriteLineAsync($"{{\"time\":\"{DateTimeOffset.UtcNow:O}\",\"level\":\"warning\",\"category\":\"TunnelPS.Log\",\"message\":\"{dropped} log entries were dropped because the log file could not keep up.\"}}").ConfigureAwait(false);
                }

                await _writer.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // The disk is full or the file went away: logging stops, the server goes on.
        }
        catch (ObjectDisposedException)
        {
            // Dispose closed the writer after waiting for this pump: the file is closed and this file is where the log
            // went, so there is nowhere left to report it; the lines still queued are lost with the server's stop.
        }
    }

    /// <summary>Writes what is queued and closes the file.</summary>
    public void Dispose()
    {
        _lines.Writer.TryComplete();
        try
        {
            _pump.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The pump ends on its own write failures (above); anything else that faulted it stopped the logging it
            // would report to. Dispose still closes the file: the server's stop must not fail on its log.
        }

        _writer.Dispose();
    }
}
