namespace TunnelPS.Engine.Http;

/// <summary>Receives the fields of a head as the parser validates them: spans of the head's bytes, nothing copied.</summary>
internal interface IHeaderVisitor
{
    /// <summary>One field; <paramref name="lineStart"/> and <paramref name="lineEnd"/> (just past its LF) are offsets of its line in the header block.</summary>
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int lineStart, int lineEnd);
}

/// <summary>Where the parts of a request line are in the data a request head was scanned from.</summary>
internal struct RequestLine
{
    public int LineStart;
    public int MethodStart;
    public int MethodLength;
    public int TargetStart;
    public int TargetLength;
    public bool IsHttp11;

    /// <summary>Where the header lines start (just past the request line's LF).</summary>
    public int HeadersStart;
}

/// <summary>What a response's status line says, with where its reason phrase is in the data the head was scanned from.</summary>
internal struct StatusLine
{
    public int StatusCode;
    public bool IsHttp11;
    public int ReasonStart;
    public int ReasonLength;

    /// <summary>Where the header lines start (just past the status line's LF).</summary>
    public int HeadersStart;
}
