using System.Globalization;
using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The <c>raw</c> field of a request's detail, as ngrok's agent API gives it: the message as it crossed the tunnel,
/// head and body. The head is the captured bytes when the tap kept them, else rebuilt from the captured fields (start
/// line, header fields in wire order); the body is the captured one, so a body beyond the capture cap is cut there.
/// The tap keeps a chunked body de-chunked, so under a head that says <c>Transfer-Encoding: chunked</c> the body is
/// framed again as one chunk and the last chunk: the raw message stays one that parses (chunk sizes and trailers as
/// the peer sent them are not kept).
/// </summary>
internal static class RawMessage
{
    /// <summary>The request head and body.</summary>
    public static byte[] Request(CapturedExchange e) =>
        Join(e.RequestHeadBytes ?? Head($"{e.Method} {e.Target} {Version(e)}", e.RequestHeaders), e.RequestBody.Span, IsChunked(e.RequestHeaders));

    /// <summary>The final response head and body.</summary>
    public static byte[] Response(CapturedExchange e) =>
        Join(
            e.ResponseHeadBytes ?? Head(string.Create(CultureInfo.InvariantCulture, $"{Version(e)} {e.Status} {e.Reason}").TrimEnd(), e.ResponseHeaders),
            e.ResponseBody.Span,
            IsChunked(e.ResponseHeaders));

    private static string Version(CapturedExchange e) => string.IsNullOrEmpty(e.HttpVersion) ? "HTTP/1.1" : e.HttpVersion;

    private static byte[] Head(string startLine, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var head = new StringBuilder(startLine).Append("\r\n");
        foreach (var header in headers)
        {
            head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }
        // Latin-1, as a head is sent: a byte per character.
        return Encoding.Latin1.GetBytes(head.Append("\r\n").ToString());
    }

    private static bool IsChunked(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        foreach (var header in headers)
        {
            if (header.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                && header.Value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static byte[] Join(byte[] head, ReadOnlySpan<byte> body, bool chunked)
    {
        if (!chunked)
        {
            var raw = new byte[head.Length + body.Length];
            head.CopyTo(raw, 0);
            body.CopyTo(raw.AsSpan(head.Length));
            return raw;
        }
        // One chunk holding the whole body (none when it is empty), then the last chunk and the end of the (empty) trailer.
        var size = body.IsEmpty ? [] : Encoding.ASCII.GetBytes(body.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n");
        var end = body.IsEmpty ? "0\r\n\r\n"u8 : "\r\n0\r\n\r\n"u8;
        var framed = new byte[head.Length + size.Length + body.Length + end.Length];
        head.CopyTo(framed, 0);
        size.CopyTo(framed, head.Length);
        body.CopyTo(framed.AsSpan(head.Length + size.Length));
        end.CopyTo(framed.AsSpan(head.Length + size.Length + body.Length));
        return framed;
    }
}
