using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Inspector;

/// <summary>One request to the inspector: the parsed head, the path split from the query, and the whole body.</summary>
internal sealed class InspectorRequest
{
    private readonly List<KeyValuePair<string, string>> _query = [];

    public InspectorRequest(HttpRequestHead head, ReadOnlyMemory<byte> body, long connectionId, InspectorPeer peer = default)
    {
        Head = head;
        Peer = peer;
        Body = body;
        ConnectionId = connectionId;
        var target = head.Target;
        var q = target.IndexOf('?', StringComparison.Ordinal);
        Path = q < 0 ? target : target[..q];
        if (q >= 0)
        {
            foreach (var pair in target[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                _query.Add(new(Unescape(eq < 0 ? pair : pair[..eq]), eq < 0 ? string.Empty : Unescape(pair[(eq + 1)..])));
            }
        }
    }

    public HttpRequestHead Head { get; }

    /// <summary>Whose process the connection comes from (found once per connection).</summary>
    public InspectorPeer Peer { get; }

    public string Method => Head.Method;

    /// <summary>The path of the target, still percent-encoded.</summary>
    public string Path { get; }

    public ReadOnlyMemory<byte> Body { get; }

    public long ConnectionId { get; }

    /// <summary>The first request header named <paramref name="name"/>, or null.</summary>
    public string? Header(string name) => Head.Headers[name];

    /// <summary>The first query parameter named <paramref name="name"/> (decoded), or null.</summary>
    public string? Query(string name)
    {
        foreach (var pair in _query)
        {
            if (string.Equals(pair.Key, name, StringComparison.Ordinal))
            {
                return pair.Value;
            }
        }
        return null;
    }

    /// <summary>Every value of <paramref name="name"/>, repeated parameters and comma-separated lists alike.</summary>
    public List<string> QueryList(string name)
    {
        var values = new List<string>();
        foreach (var pair in _query)
        {
            if (string.Equals(pair.Key, name, StringComparison.Ordinal))
            {
                values.AddRange(pair.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
        }
        return values;
    }

    private static string Unescape(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return value;
        }
    }
}
