using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Reads a TLS client's first flight, its ClientHello, off the socket before any TLS work starts: whole handshake
/// records (RFC 8446 5.1), as many as the client split the hello into, and not one byte more, so that the TLS stream
/// replays exactly these bytes and reads the rest from the socket. Memory grows only with the bytes that arrived.
/// </summary>
internal static class ClientHelloReader
{
    /// <summary>The largest ClientHello accepted (its handshake message): 32 KiB. Real ones take 0.5-2 KiB (8 with big resumption tickets).</summary>
    public const int MaxHelloLength = 32 * 1024;

    /// <summary>The most bytes the hello's records may take on the wire (a hello split into many small records has a header per record).</summary>
    private const int MaxWireLength = 2 * MaxHelloLength;

    private const int RecordHeaderLength = 5;
    private const int MaxRecordLength = 16 * 1024;   // 2^14: the most plaintext a record may carry
    private const byte HandshakeRecord = 0x16;
    private const byte ClientHelloType = 0x01;

    /// <summary>Reads records until the whole ClientHello is in hand; returns them as they came.</summary>
    /// <exception cref="ClientHelloException">The bytes are not a TLS ClientHello, or it is larger than <see cref="MaxHelloLength"/>.</exception>
    /// <exception cref="IOException">The peer closed the connection first.</exception>
    public static async ValueTask<byte[]> ReadAsync(Socket socket, CancellationToken token)
    {
        var buffer = new byte[2048];
        var got = 0;
        var helloBytes = 0;          // handshake bytes received so far (record payloads)
        var helloLength = -1;        // the hello's full length (header included) once its header is in
        var headerBytes = 0;
        var header = 0u;             // the handshake message header (type, 24-bit length), which may straddle records
        while (helloLength < 0 || helloBytes < helloLength)
        {
            buffer = await ReceiveAsync(socket, buffer, got, RecordHeaderLength, token).ConfigureAwait(false);
            var recordLength = CheckRecordHeader(buffer.AsSpan(got, RecordHeaderLength));
            got += RecordHeaderLength;
            // The handshake message's header is checked as soon as it is in, before the rest of its record is awaited.
            var headerPart = Math.Min(4 - headerBytes, recordLength);
            if (headerPart > 0)
            {
                buffer = await ReceiveAsync(socket, buffer, got, headerPart, token).ConfigureAwait(false);
                for (var i = 0; i < headerPart; i++)
                {
                    header = (header << 8) | buffer[got + i];
                }
                headerBytes += headerPart;
                if (headerBytes == 4)
                {
                    helloLength = CheckHandshakeHeader(header);
                }
            }
            buffer = await ReceiveAsync(socket, buffer, got + headerPart, recordLength - headerPart, token).ConfigureAwait(false);
            got += recordLength;
            helloBytes += recordLength;
        }
        return buffer.AsSpan(0, got).ToArray();
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes at <paramref name="offset"/>, growing the buffer as they arrive.</summary>
    private static async ValueTask<byte[]> ReceiveAsync(Socket socket, byte[] buffer, int offset, int count, CancellationToken token)
    {
        var end = offset + count;
        if (end > MaxWireLength)
        {
            throw new ClientHelloException(string.Create(CultureInfo.InvariantCulture,
                $"The TLS ClientHello takes more than {MaxWireLength} bytes of records; the server accepts at most {MaxHelloLength} bytes of hello."));
        }
        while (offset < end)
        {
            if (offset == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxWireLength));
            }
            var n = await socket.ReceiveAsync(buffer.AsMemory(offset, Math.Min(end, buffer.Length) - offset), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("The connection closed before its TLS ClientHello was complete.");
            }
            offset += n;
        }
        return buffer;
    }

    private static int CheckRecordHeader(ReadOnlySpan<byte> record)
    {
        if (record[0] != HandshakeRecord || record[1] != 3)
        {
            throw new ClientHelloException(string.Create(CultureInfo.InvariantCulture,
                $"The connection does not start with a TLS handshake (first bytes 0x{record[0]:x2} 0x{record[1]:x2}): plain HTTP or another protocol was sent to the TLS port."));
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(record[3..]);
        if (length is 0 or > MaxRecordLength)
        {
            throw new ClientHelloException(string.Create(CultureInfo.InvariantCulture,
                $"A TLS record of {length} bytes is not valid (1 to {MaxRecordLength})."));
        }
        return length;
    }

    private static int CheckHandshakeHeader(uint header)
    {
        if (header >> 24 != ClientHelloType)
        {
            throw new ClientHelloException(string.Create(CultureInfo.InvariantCulture,
                $"The first TLS handshake message is of type {header >> 24}, not a ClientHello."));
        }
        var length = (int)(header & 0xFFFFFF);
        if (length > MaxHelloLength - 4)
        {
            throw new ClientHelloException(string.Create(CultureInfo.InvariantCulture,
                $"The TLS ClientHello announces {length} bytes; the server accepts at most {MaxHelloLength}."));
        }
        return length + 4;
    }
}

/// <summary>The first bytes on the TLS port are not a TLS ClientHello the server accepts; the connection is closed.</summary>
internal sealed class ClientHelloException(string message) : IOException(message);
