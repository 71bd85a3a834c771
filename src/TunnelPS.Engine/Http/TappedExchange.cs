namespace TunnelPS.Engine.Http;

/// <summary>
/// One request/response pair as <see cref="HttpExchangeTap"/> saw it: the heads as bytes, the bodies up to the cap,
/// byte counts, timestamps, and what went wrong.
/// <para>
/// The two directions fill it from two threads. The request side sets the init-only fields before it hands the
/// exchange to the response side and then writes only the request fields; the response side writes only the response
/// fields. Each side marks its part done once (<see cref="MarkRequestDone"/>, <see cref="MarkResponseDone"/>); the
/// mark that completes the pair tells its caller to hand the exchange on, after which nothing writes to it but the
/// tap's final timings. The few fields either side may set (<see cref="Error"/>, <see cref="IsUnparsed"/>, the upgrade
/// decision) are set atomically.
/// </para>
/// </summary>
internal sealed class TappedExchange
{
    private const int RequestDoneBit = 1;
    private const int ResponseDoneBit = 2;

    private int _done;
    private string? _error;
    private volatile bool _unparsed;
    private volatile bool _upgradeDeclined;
    private volatile bool _endedByResponse;

    /// <summary>The request head as received, leading empty lines included; null when the bytes were not a head.</summary>
    public byte[]? RequestHead { get; init; }

    /// <summary>The request's method is HEAD (in any case): its response has no body.</summary>
    public bool IsHeadRequest { get; init; }

    /// <summary>The request's method is CONNECT (in any case).</summary>
    public bool IsConnectRequest { get; init; }

    /// <summary>The request asks to switch protocols (Upgrade) or is a CONNECT.</summary>
    public bool WantsUpgrade { get; init; }

    /// <summary>When the first byte of the request was seen (<see cref="TimeProvider.GetTimestamp"/>); 0 if unknown.</summary>
    public long StartTimestamp { get; init; }

    /// <summary>When the first byte of the request was seen; replaced by the completion time when unknown.</summary>
    public DateTimeOffset StartTime { get; set; }

    // Request side.

    /// <summary>Request bytes on the wire: head and framed body.</summary>
    public long BytesIn { get; set; }

    /// <summary>The request body up to the cap; null when there was none.</summary>
    public BodyCapture? RequestBody { get; set; }

    public long RequestEndTimestamp { get; set; }

    // Response side.

    /// <summary>The final response's status; 0 when there was none.</summary>
    public int Status { get; set; }

    /// <summary>The final response head as received; null when there was none.</summary>
    public byte[]? ResponseHead { get; set; }

    /// <summary>Response bytes on the wire: interim responses, head and framed body.</summary>
    public long BytesOut { get; set; }

    /// <summary>The response body up to the cap (or a sample of unparsable bytes); null when there was none.</summary>
    public BodyCapture? ResponseBody { get; set; }

    public long FirstByteTimestamp { get; set; }

    public long ResponseEndTimestamp { get; set; }

    /// <summary>The response switched protocols (101) or opened a CONNECT tunnel.</summary>
    public bool IsUpgrade { get; set; }

    // Either side.

    /// <summary>What went wrong: the first reason given wins.</summary>
    public string? Error => Volatile.Read(ref _error);

    /// <summary>Bytes of this exchange were not HTTP/1.x.</summary>
    public bool IsUnparsed => _unparsed;

    /// <summary>The response to an upgrade request did not switch protocols: the request side reads on.</summary>
    public bool UpgradeDeclined => _upgradeDeclined;

    /// <summary>The response side ended the exchange (upgrade or unparsable response) while the request may still have been arriving.</summary>
    public bool EndedByResponse => _endedByResponse;

    // The tap's final figures, set when the pair is complete.

    public TimeSpan TimeToFirstByte { get; set; }

    public TimeSpan Duration { get; set; }

    /// <summary>The next exchange handed from the request side to the response side.</summary>
    internal TappedExchange? Next;

    public void SetError(string error) => Interlocked.CompareExchange(ref _error, error, null);

    public void MarkUnparsed() => _unparsed = true;

    public void DeclineUpgrade() => _upgradeDeclined = true;

    public void EndByResponse() => _endedByResponse = true;

    /// <summary>Marks the request part done; true when that completes the pair (the caller hands it on).</summary>
    public bool MarkRequestDone() => Mark(RequestDoneBit);

    /// <summary>Marks the response part done; true when that completes the pair (the caller hands it on).</summary>
    public bool MarkResponseDone() => Mark(ResponseDoneBit);

    private bool Mark(int bit)
    {
        var before = Interlocked.Or(ref _done, bit);
        return (before & bit) == 0 && (before | bit) == (RequestDoneBit | ResponseDoneBit);
    }
}
