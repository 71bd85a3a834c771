using System.Buffers;
using System.Text.Json;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// The entries of a HAR document read from a stream one at a time, never the whole document: a
/// <see cref="Utf8JsonReader"/> over a pooled buffer finds log.entries (skipping whatever comes before it), then each
/// entry, a whole JSON object, is parsed on its own and returned. The buffer grows only to hold one entry, up to the
/// most one entry may take; a larger entry is passed over byte by byte (strings and nesting tracked) without being
/// held, and counted in <see cref="Skipped"/>. What follows the entries array is not read.
/// </summary>
internal sealed class HarEntryStream : IDisposable
{
    private const int InitialBuffer = 64 * 1024;

    private static readonly JsonReaderOptions s_options = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    private readonly Stream _stream;
    private readonly int _maxEntryBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _final;
    private JsonReaderState _state = new(s_options);
    private bool _inEntries;
    private bool _done;

    public HarEntryStream(Stream stream, int maxEntryBytes)
    {
        _stream = stream;
        _maxEntryBytes = maxEntryBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBuffer, maxEntryBytes));
    }

    /// <summary>Entries returned.</summary>
    public long Read { get; private set; }

    /// <summary>Entries passed over because they were larger than the most one entry may take.</summary>
    public long Skipped { get; private set; }

    /// <summary>The next entry, or false after the last.</summary>
    /// <exception cref="TunnelException">The document is not JSON, lacks log.entries, or the entry is malformed.</exception>
    public bool TryReadNext(out CapturedExchange exchange)
    {
        exchange = null!;
        try
        {
            if (!_inEntries && !_done)
            {
                FindEntries();
                _inEntries = true;
            }
            while (!_done)
            {
                if (!SkipWhitespace())
                {
                    throw new TunnelException("The HAR file ends inside log.entries.");
                }
                switch (_buffer[_start])
                {
                    case (byte)']':
                        _done = true;
                        return false;
                    case (byte)',':
                        _start++;
                        continue;
                    case (byte)'{':
                        if (TryTakeEntry(out var json))
                        {
                            var index = Read + Skipped;
                            exchange = HarReader.ReadEntry(json, index);
                            Read++;
                            return true;
                        }
                        Skipped++;
                        continue;
                    default:
                        throw new TunnelException($"HAR entry {Read + Skipped} is not a JSON object.");
                }
            }
            return false;
        }
        catch (JsonException ex)
        {
            _done = true;
            throw new TunnelException($"The HAR file is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // Text the reader cannot decode (invalid UTF-8) where it had to.
            _done = true;
            throw new TunnelException($"The HAR file is not valid JSON: {ex.Message}", ex);
        }
        catch (TunnelException)
        {
            _done = true;
            throw;
        }
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads up to and past the '[' of log.entries, skipping every other member.</summary>
    private void FindEntries()
    {
        if (NextToken(out _) != JsonTokenType.StartObject)
        {
            throw new TunnelException("The file is not a HAR archive: it is not a JSON object.");
        }
        var inLog = false;
        while (true)
        {
            var token = NextToken(out var member);
            if (token == JsonTokenType.EndObject)
            {
                throw new TunnelException("The file is not a HAR archive: log.entries is missing.");
            }
            if (token != JsonTokenType.PropertyName)
            {
                throw new TunnelException("The file is not a HAR archive: log.entries is missing.");
            }
            if (!inLog && member == Member.Log)
            {
                if (NextToken(out _) != JsonTokenType.StartObject)
                {
                    throw new TunnelException("The file is not a HAR archive: log is not an object.");
                }
                inLog = true;
            }
            else if (inLog && member == Member.Entries)
            {
                if (NextToken(out _) != JsonTokenType.StartArray)
                {
                    throw new TunnelException("The file is not a HAR archive: log.entries is not an array.");
                }
                return;
            }
            else
            {
                SkipValue(inLog ? "a member of log" : "a member");
            }
        }
    }

    /// <summary>The names <see cref="FindEntries"/> looks for (compared as UTF-8, never decoded: a name may be invalid UTF-8).</summary>
    private enum Member
    {
        Other,
        Log,
        Entries,
    }

    /// <summary>The next token of the document (for a property's name, which one in <paramref name="member"/>).</summary>
    private JsonTokenType NextToken(out Member member)
    {
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
            if (reader.Read())
            {
                member = reader.TokenType != JsonTokenType.PropertyName ? Member.Other
                    : reader.ValueTextEquals("log"u8) ? Member.Log
                    : reader.ValueTextEquals("entries"u8) ? Member.Entries
                    : Member.Other;
                _start += (int)reader.BytesConsumed;
                _state = reader.CurrentState;
                return reader.TokenType;
            }
            if (_final)
            {
                throw new TunnelException("The file is not a HAR archive: log.entries is missing.");
            }
            Fill(growTo: _maxEntryBytes, what: "the value before log.entries");
        }
    }

    /// <summary>Skips the value after a property name (a member other than log.entries), whole.</summary>
    private void SkipValue(string member)
    {
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
            if (reader.Read() && reader.TrySkip())
            {
                _start += (int)reader.BytesConsumed;
                _state = reader.CurrentState;
                return;
            }
            if (_final)
            {
                throw new TunnelException("The file is not a HAR archive: log.entries is missing.");
            }
            Fill(growTo: _maxEntryBytes, what: member + " before log.entries");
        }
    }

    /// <summary>
    /// The JSON of the entry that starts at the buffer's '{' (and moves past it), or false when it is larger than an
    /// entry may be (then it has been passed over).
    /// </summary>
    private bool TryTakeEntry(out ReadOnlyMemory<byte> json)
    {
        while (true)
        {
            // Each entry is read as a document of its own: the array around it is walked by hand.
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, new JsonReaderState(s_options));
            if (reader.Read() && reader.TrySkip())
            {
                var length = (int)reader.BytesConsumed;
                json = _buffer.AsMemory(_start, length);
                _start += length;
                return true;
            }
            if (_final)
            {
                throw new TunnelException($"The HAR file ends inside entry {Read + Skipped}.");
            }
            if (_end - _start >= _maxEntryBytes)
            {
                PassOverEntry();
                json = default;
                return false;
            }
            Fill(growTo: _maxEntryBytes, what: null);
        }
    }

    /// <summary>Moves past the entry at the buffer's start without holding it: nesting and strings tracked byte by byte.</summary>
    private void PassOverEntry()
    {
        var depth = 0;
        var inString = false;
        var escaped = false;
        while (true)
        {
            for (; _start < _end; _start++)
            {
                var b = _buffer[_start];
                if (inString)
                {
                    if (escaped)
                    {
                        escaped = false;
                    }
                    else if (b == '\\')
                    {
                        escaped = true;
                    }
                    else if (b == '"')
                    {
                        inString = false;
                    }
                    continue;
                }
                switch (b)
                {
                    case (byte)'"':
                        inString = true;
                        break;
                    case (byte)'{' or (byte)'[':
                        depth++;
                        break;
                    case (byte)'}' or (byte)']':
                        depth--;
                        if (depth == 0)
                        {
                            _start++;
                            return;
                        }
                        break;
                }
            }
            if (_final)
            {
                throw new TunnelException($"The HAR file ends inside entry {Read + Skipped}.");
            }
            Fill(growTo: _buffer.Length, what: null);
        }
    }

    /// <summary>Skips spaces and line breaks; false at the end of the file.</summary>
    private bool SkipWhitespace()
    {
        while (true)
        {
            while (_start < _end && _buffer[_start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                _start++;
            }
            if (_start < _end)
            {
                return true;
            }
            if (_final)
            {
                return false;
            }
            Fill(growTo: _buffer.Length, what: null);
        }
    }

    /// <summary>
    /// Reads more of the stream after what is unread (moved to the buffer's start), growing the buffer up to
    /// <paramref name="growTo"/> bytes when it is full; a value that does not fit even then is an error that names
    /// <paramref name="what"/>.
    /// </summary>
    private void Fill(int growTo, string? what)
    {
        var unread = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, unread);
            _start = 0;
            _end = unread;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= growTo)
            {
                throw new TunnelException($"The HAR file is not one this computer can import: {what ?? "a value"} is larger than {growTo / (1024 * 1024)} MiB.");
            }
            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)_buffer.Length * 2, growTo));
            Buffer.BlockCopy(_buffer, 0, larger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _final = true;
        }
        _end += read;
    }
}
