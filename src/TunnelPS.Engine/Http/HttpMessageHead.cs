using System.Text;

namespace TunnelPS.Engine.Http;

/// <summary>
/// What request and response heads share: the HTTP version, the header fields, connection persistence and
/// re-serialisation of the head (start line, headers in order, CRLF CRLF). Strings are Latin-1, so any byte of a
/// parsed head survives a round trip unchanged.
/// </summary>
public abstract class HttpMessageHead
{
    private protected HttpMessageHead(string version, HttpHeaderList headers)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(headers);
        Version = version;
        Headers = headers;
    }

    /// <summary>"HTTP/1.1" or "HTTP/1.0".</summary>
    public string Version { get; set; }

    /// <summary>The header fields in wire order; mutable so a proxy can add or replace fields before writing the head.</summary>
    public HttpHeaderList Headers { get; }

    /// <summary>True for HTTP/1.1 and later, false for HTTP/1.0.</summary>
    public bool IsHttp11 => !string.Equals(Version, "HTTP/1.0", StringComparison.Ordinal);

    /// <summary>
    /// Whether the connection stays open after this message, from the version and the Connection header:
    /// HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive" and no "close".
    /// (A response whose body runs until close ends the connection regardless; see <see cref="HttpBodyFramer"/>.)
    /// </summary>
    public bool KeepAlive
    {
        get
        {
            if (Headers.ContainsToken("Connection", "close"))
            {
                return false;
            }
            return IsHttp11 || Headers.ContainsToken("Connection", "keep-alive");
        }
    }

    /// <summary>The number of bytes <see cref="WriteTo"/> writes.</summary>
    public int GetSerializedLength()
    {
        var length = GetStartLineLength() + 2 + 2;
        foreach (var header in Headers)
        {
            length += header.Key.Length + 2 + header.Value.Length + 2;
        }
        return length;
    }

    /// <summary>Writes the head (start line, headers in order, empty line) into <paramref name="destination"/>; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="GetSerializedLength"/>.</exception>
    public int WriteTo(Span<byte> destination)
    {
        var needed = GetSerializedLength();
        if (destination.Length < needed)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the head needs {needed}.", nameof(destination));
        }
        var pos = WriteStartLine(destination);
        destination[pos++] = (byte)'\r';
        destination[pos++] = (byte)'\n';
        foreach (var header in Headers)
        {
            pos += WriteLatin1(header.Key, destination[pos..]);
            destination[pos++] = (byte)':';
            destination[pos++] = (byte)' ';
            pos += WriteLatin1(header.Value, destination[pos..]);
            destination[pos++] = (byte)'\r';
            destination[pos++] = (byte)'\n';
        }
        destination[pos++] = (byte)'\r';
        destination[pos++] = (byte)'\n';
        return pos;
    }

    /// <summary>The serialised head in a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[GetSerializedLength()];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>The serialised head as text, for diagnostics.</summary>
    public override string ToString() => Encoding.Latin1.GetString(ToArray());

    private protected abstract int GetStartLineLength();

    private protected abstract int WriteStartLine(Span<byte> destination);

    private protected static int WriteLatin1(string value, Span<byte> destination)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c > 255)
            {
                throw new InvalidOperationException($"'{value}' holds a character that cannot be written in an HTTP head.");
            }
            destination[i] = (byte)c;
        }
        return value.Length;
    }
}
