using System.Buffers.Binary;

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

    /// <summary>Client → server: keeps middleboxes from expiring an idle link; answered with <see cref="Pong"/>.</summary>
    Ping = 6,

    /// <summary>Server → client: the answer to <see cref="Ping"/>.</summary>
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
}
