using System.Globalization;
using System.Text;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The <c>raw</c> field of a request's detail, as ngrok's agent API gives it: the message as it crossed the tunnel,
/// head and body. The head is the captured bytes when the tap kept them, else rebuilt from the captured fields (start
/// line, header fields in wire order); the body is the captured one, so a body beyond the capture cap is cut there.
/// </summary>
internal static class RawMessage
{
    /// <summary>The request head and body.</summary>
    public static byte[] Request(CapturedExchange e) =>
        Join(e.RequestHeadBytes ?? Head($"{e.Method} {e.Target} {Version(e)}", e.RequestHeaders), e.RequestBody.Span);

    /// <summary>The final response head and body.</summary>
    public static byte[] Response(CapturedExchange e) =>
        Join(
            e.ResponseHeadBytes ?? Head(string.Create(CultureInfo.InvariantCulture, $"{Version(e)} {e.Status} {e.Reason}").TrimEnd(), e.ResponseHeaders),
            e.ResponseBody.Span);

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

    private static byte[] Join(byte[] head, ReadOnlySpan<byte> body)
    {
        var raw = new byte[head.Length + body.Length];
        head.CopyTo(raw, 0);
        body.CopyTo(raw.AsSpan(head.Length));
        return raw;
    }
}
