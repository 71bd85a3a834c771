namespace TunnelPS.Engine.Http;

/// <summary>
/// Receives the decoded bytes of a body (chunk framing removed) as <see cref="HttpBodyFramer"/> walks it. The span
/// is a slice of the caller's buffer, valid only during the call: copy what you keep.
/// </summary>
internal interface IHttpBodySink
{
    void OnBodyData(ReadOnlySpan<byte> data);
}
