using System.Buffers;

namespace TunnelPS.Engine.Http;

/// <summary>Chunked framing (RFC 9112 7.1) of <see cref="HttpBodyFramer"/>: the state machine and its line and trailer counts.</summary>
internal sealed partial class HttpBodyFramer
{
    /// <summary>
    /// Walks chunked framing (RFC 9112 7.1) byte by byte, so any split of the input gives the same result. Every error
    /// is an <see cref="HttpParseException"/> (400) whose message starts "Malformed chunked body: ". Lines end in CRLF;
    /// a response (observed, from the user's own service) may also end them in a bare LF, as its head may.
    /// </summary>
    /// <remarks>
    /// One method on purpose: it is the parser's state machine (the states are <see cref="ChunkState"/>), stepping one
    /// byte or one run of data at a time. Each case is short and ends by moving to the next state; split into a
    /// method per state, every step would pay a call and hand the position and the span back through the loop, on the
    /// path of every chunked body the tunnel forwards and captures, and the fuzz targets pin it as it is.
    /// </remarks>
    private int AdvanceChunked(ReadOnlySpan<byte> data, IHttpBodySink? sink)
    {
        var i = 0;
        while (i < data.Length)
        {
            var b = data[i];
            switch (_state)
            {
                case ChunkState.Size:
                    {
                        var digit = HexValue(b);
                        if (digit >= 0)
                        {
                            if (_remaining > (long.MaxValue >> 4))
                            {
                                throw Malformed("the chunk size is too large.");
                            }
                            _remaining = (_remaining << 4) | (uint)digit;
                            _sizeHasDigit = true;
                            CountLineBytes(1);
                            i++;
                            continue;
                        }
                        if (!_sizeHasDigit)
                        {
                            throw Malformed("a chunk size is not a hexadecimal number.");
                        }
                        i++;
                        if (b == (byte)'\r')
                        {
                            _state = ChunkState.SizeLf;
                        }
                        else if (b == (byte)'\n')
                        {
                            RequireCrlf("a chunk-size line");
                            EndSizeLine();
                        }
                        else if (b == (byte)';')
                        {
                            CountLineBytes(1);
                            _state = ChunkState.Extension;
                        }
                        else if (b is (byte)' ' or (byte)'\t')
                        {
                            CountLineBytes(1);
                            _state = ChunkState.SizeWhitespace;
                        }
                        else
                        {
                            throw Malformed("invalid character after a chunk size.");
                        }
                        continue;
                    }
                case ChunkState.SizeWhitespace:
                    // Whitespace after the size may only lead to an extension (";") or the end of the line.
                    i++;
                    if (b is (byte)' ' or (byte)'\t')
                    {
                        CountLineBytes(1);
                    }
                    else if (b == (byte)';')
                    {
                        CountLineBytes(1);
                        _state = ChunkState.Extension;
                    }
                    else if (b == (byte)'\r')
                    {
                        _state = ChunkState.SizeLf;
                    }
                    else if (b == (byte)'\n')
                    {
                        RequireCrlf("a chunk-size line");
                        EndSizeLine();
                    }
                    else
                    {
                        throw Malformed("whitespace after a chunk size is not followed by ';' or the line end.");
                    }
                    continue;
                case ChunkState.Extension:
                    {
                        // Skip the extension up to the line end; control characters other than tab are rejected. The
                        // bytes before the first CR, LF or control character are counted, then that byte is judged:
                        // the same order as one byte at a time, so the error does not depend on the split.
                        var rest = data[i..];
                        var stop = rest.IndexOfAny(ExtensionStops);
                        CountLineBytes(stop < 0 ? rest.Length : stop);
                        if (stop < 0)
                        {
                            i = data.Length;
                            continue;
                        }
                        i += stop + 1;
                        if (rest[stop] == (byte)'\r')
                        {
                            _state = ChunkState.SizeLf;
                        }
                        else if (rest[stop] == (byte)'\n')
                        {
                            RequireCrlf("a chunk-size line");
                            EndSizeLine();
                        }
                        else
                        {
                            throw Malformed("control character in a chunk extension.");
                        }
                        continue;
                    }
                case ChunkState.SizeLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF after a chunk size.");
                    }
                    i++;
                    EndSizeLine();
                    continue;
                case ChunkState.Data:
                    {
                        var take = (int)Math.Min(_remaining, data.Length - i);
                        sink?.OnBodyData(data.Slice(i, take));
                        DataBytes += take;
                        _remaining -= take;
                        i += take;
                        if (_remaining == 0)
                        {
                            _state = ChunkState.DataCr;
                        }
                        continue;
                    }
                case ChunkState.DataCr:
                    if (b == (byte)'\n')
                    {
                        RequireCrlf("chunk data");
                        i++;
                        _state = ChunkState.Size;
                        continue;
                    }
                    if (b != (byte)'\r')
                    {
                        throw Malformed("chunk data is longer than its size (no CRLF after it).");
                    }
                    i++;
                    _state = ChunkState.DataLf;
                    continue;
                case ChunkState.DataLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF after chunk data.");
                    }
                    i++;
                    _state = ChunkState.Size;
                    continue;
                case ChunkState.TrailerLineStart:
                    if (b is (byte)'\r' or (byte)'\n')
                    {
                        CountTrailerBytes(1);
                        i++;
                        if (b == (byte)'\r')
                        {
                            _state = ChunkState.FinalLf;
                            continue;
                        }
                        RequireCrlf("the last line of the body");
                        IsComplete = true;
                        return i;
                    }
                    if (b is (byte)' ' or (byte)'\t')
                    {
                        throw Malformed("obsolete line folding in the trailer section.");
                    }
                    _state = ChunkState.TrailerName;
                    continue;
                case ChunkState.TrailerName:
                    {
                        // A trailer field is a header field: a token, a colon, a value (RFC 9112 7.1.2).
                        var rest = data[i..];
                        var take = 0;
                        while (take < rest.Length && HttpHeadParser.IsTokenChar(rest[take]))
                        {
                            take++;
                        }
                        CountTrailerBytes(take);
                        _trailerNameLength += take;
                        i += take;
                        if (take == rest.Length)
                        {
                            continue;
                        }
                        if (rest[take] != (byte)':')
                        {
                            throw Malformed("invalid character in a trailer field name.");
                        }
                        if (_trailerNameLength == 0)
                        {
                            throw Malformed("empty trailer field name.");
                        }
                        CountTrailerBytes(1);
                        i++;
                        _state = ChunkState.TrailerValue;
                        continue;
                    }
                case ChunkState.TrailerValue:
                    {
                        // As for extensions: count up to the first CR, LF or forbidden byte, then judge that byte.
                        var rest = data[i..];
                        var stop = rest.IndexOfAny(_strict ? StrictTrailerStops : LenientTrailerStops);
                        CountTrailerBytes(stop < 0 ? rest.Length : stop);
                        if (stop < 0)
                        {
                            i = data.Length;
                            continue;
                        }
                        i += stop + 1;
                        if (rest[stop] == (byte)'\r')
                        {
                            CountTrailerBytes(1);
                            _state = ChunkState.TrailerLf;
                        }
                        else if (rest[stop] == (byte)'\n')
                        {
                            CountTrailerBytes(1);
                            RequireCrlf("a trailer line");
                            StartTrailerLine();
                        }
                        else
                        {
                            throw Malformed("control character in a trailer field value.");
                        }
                        continue;
                    }
                case ChunkState.TrailerLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF in the trailer section.");
                    }
                    CountTrailerBytes(1);
                    i++;
                    StartTrailerLine();
                    continue;
                case ChunkState.FinalLf:
                    if (b != (byte)'\n')
                    {
                        throw Malformed("CR without LF at the end of the body.");
                    }
                    i++;
                    IsComplete = true;
                    return i;
            }
        }
        return i;
    }

    private static HttpParseException Malformed(string what) => new("Malformed chunked body: " + what);

    /// <summary>A line of chunk framing ended in a bare LF: an error in a request, accepted in a response.</summary>
    private void RequireCrlf(string where)
    {
        if (_strict)
        {
            throw Malformed($"{where} ends in a bare LF instead of CRLF.");
        }
    }

    /// <summary>Counts chunk-size line bytes (size digits and extensions) against <see cref="MaxChunkLineLength"/>.</summary>
    private void CountLineBytes(int count)
    {
        _lineLength += count;
        if (_lineLength > MaxChunkLineLength)
        {
            throw Malformed($"a chunk-size line exceeds {MaxChunkLineLength} bytes.");
        }
    }

    private void EndSizeLine()
    {
        _lineLength = 0;
        _sizeHasDigit = false;
        if (_remaining == 0)
        {
            StartTrailerLine();
        }
        else
        {
            _state = ChunkState.Data;
        }
    }

    private void StartTrailerLine()
    {
        _trailerNameLength = 0;
        _state = ChunkState.TrailerLineStart;
    }

    /// <summary>Counts trailer section bytes (line ends included) against the head limit, the same for any split.</summary>
    private void CountTrailerBytes(int count)
    {
        _trailerLength += count;
        if (_trailerLength > HttpHeadParser.MaxHeadLength)
        {
            throw Malformed($"the trailer section exceeds {HttpHeadParser.MaxHeadLength / 1024} KiB.");
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
