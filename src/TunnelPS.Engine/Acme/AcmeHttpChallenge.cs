using System.Globalization;
using System.Text;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// The HTTP-01 answer on the plain HTTP port (RFC 8555 8.3): a GET of /.well-known/acme-challenge/&lt;token&gt; for a
/// token in flight is answered by the server itself, before Host routing; any other request (a token the server did
/// not provision, which a tunnel's own service may answer) goes on to its tunnel. Costs one prefix compare per request.
/// </summary>
internal static class AcmeHttpChallenge
{
    private static ReadOnlySpan<byte> Prefix => "GET /.well-known/acme-challenge/"u8;

    /// <summary>The whole response for a challenge request, or null when <paramref name="head"/> is not one in flight.</summary>
    public static byte[]? TryAnswer(ReadOnlySpan<byte> head, AcmeChallengeResponder responder)
    {
        if (!head.StartsWith(Prefix))
        {
            return null;
        }
        var rest = head[(Prefix.Length - AcmeChallengeResponder.HttpPathPrefix.Length)..];
        var end = rest.IndexOf((byte)' ');
        if (end <= 0 || end > 512)
        {
            return null;
        }
        var answer = responder.HttpAnswer(Encoding.ASCII.GetString(rest[..end]));
        if (answer is null)
        {
            return null;
        }
        var body = Encoding.ASCII.GetBytes(answer);
        var response = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(response), .. body];
    }
}
