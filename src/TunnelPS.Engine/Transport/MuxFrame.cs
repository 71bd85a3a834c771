using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace TunnelPS.Engine.Transport;

/// <summary>The kinds of frame on a multiplexed link.</summary>
internal enum MuxFrameType : byte
{
    /// <summary>Server → client: a new stream; payload: the tunnel URL and the visitor's address.</summary>
    Open = 1,

    /// <summary>Either way: stream bytes, at most the sender's credit.</summary>
    Data = 2,

    /// <summary>Either way: the receiver consumed bytes; payload: the credit returned (4 bytes).</summary>
    Window = 3,

    /// <summary>Either way: the sender will send no more on the stream (half-close).</summary>
    Fin = 4,

    /// <summary>Either way: the stream is abandoned in both directions.</summary>
    Reset = 5,

    /// <summary>Either way (the client sends them): keeps middleboxes from expiring an idle link; answered with <see cref="Pong"/>.</summary>
    Ping = 6,

    /// <summary>Either way: the answer to <see cref="Ping"/> (it counts against the answering side's control bound).</summary>
    Pong = 7,
}

/// <summary>
/// The framing of a multiplexed link (TunnelPS capability "tunnelps/mux/1"): an 8-byte header — type, flags (0),
/// payload length (16-bit little-endian), stream id (32-bit little-endian) — then the payload. A payload is at most
/// <see cref="MaxPayload"/> bytes, so a frame fits in one TLS record with room for a few more.
/// </summary>
internal static class MuxFrame
{
    public const int HeaderLength = 8;

    /// <summary>The largest payload of one frame.</summary>
    public const int MaxPayload = 16 * 1024 - HeaderLength;

    public static void WriteHeader(Span<byte> destination, MuxFrameType type, int length, uint stream)
    {
        destination[0] = (byte)type;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], stream);
    }

    public static (MuxFrameType Type, int Length, uint Stream) ReadHeader(ReadOnlySpan<byte> source) =>
        ((MuxFrameType)source[0], BinaryPrimitives.ReadUInt16LittleEndian(source[2..]), BinaryPrimitives.ReadUInt32LittleEndian(source[4..]));

    /// <summary>
    /// Takes the first whole frame off <paramref name="buffer"/> (header read, payload sliced, not copied); false,
    /// with <paramref name="buffer"/> untouched, while the frame has not fully arrived. The header's length field
    /// (16 bits) bounds a payload at 65,535 bytes; what a payload may hold is the reader's to check.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out MuxFrameType type, out uint stream, out ReadOnlySequence<byte> payload)
    {
        type = default;
        stream = 0;
        payload = default;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        (type, var length, stream) = ReadHeader(header);
        if (buffer.Length < HeaderLength + length)
        {
            return false;
        }
        payload = buffer.Slice(HeaderLength, length);
        buffer = buffer.Slice(HeaderLength + length);
        return true;
    }

    /// <summary>The length of an Open frame's payload: the URL and the visitor's address, each after its 16-bit length.</summary>
    public static int OpenPayloadLength(string url, string clientAddress) =>
        2 + Encoding.UTF8.GetByteCount(url) + 2 + Encoding.UTF8.GetByteCount(clientAddress);

    /// <summary>Writes an Open frame's payload (<see cref="OpenPayloadLength"/> bytes) to <paramref name="destination"/>.</summary>
    public static void WriteOpenPayload(Span<byte> destination, string url, string clientAddress)
    {
        var urlLength = Encoding.UTF8.GetBytes(url, destination[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)urlLength);
        var addressLength = Encoding.UTF8.GetBytes(clientAddress, destination[(4 + urlLength)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 + urlLength)..], (ushort)addressLength);
    }

    /// <summary>Reads an Open frame's payload; null, or why it is malformed (the link closes then).</summary>
    public static string? TryReadOpenPayload(ReadOnlySpan<byte> payload, out string url, out string clientAddress)
    {
        url = "";
        clientAddress = "";
        if (payload.Length < 4)
        {
            return "an Open frame is too short";
        }
        var urlLength = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        if (payload.Length < 4 + urlLength || payload.Length != 4 + urlLength + BinaryPrimitives.ReadUInt16LittleEndian(payload[(2 + urlLength)..]))
        {
            return "an Open frame's lengths do not add up";
        }
        url = Encoding.UTF8.GetString(payload.Slice(2, urlLength));
        clientAddress = Encoding.UTF8.GetString(payload[(4 + urlLength)..]);
        return null;
    }
}
