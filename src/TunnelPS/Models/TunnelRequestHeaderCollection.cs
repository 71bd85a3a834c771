using System.Collections;

namespace TunnelPS;

/// <summary>
/// The header fields of a captured request or response in wire order, duplicates kept.
/// Index by position (<c>$r.RequestHeaders[0]</c>) or by name, case-insensitively
/// (<c>$r.RequestHeaders['Content-Type']</c>): a name gives the values of every field of that
/// name joined with ", ", or null when there is none.
/// </summary>
public sealed class TunnelRequestHeaderCollection : IReadOnlyList<TunnelRequestHeader>
{
    private readonly TunnelRequestHeader[] _headers;

    internal TunnelRequestHeaderCollection(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        _headers = new TunnelRequestHeader[headers.Count];
        for (int i = 0; i < headers.Count; i++)
        {
            _headers[i] = new TunnelRequestHeader(headers[i].Key, headers[i].Value);
        }
    }

    /// <summary>How many fields there are.</summary>
    public int Count => _headers.Length;

    /// <summary>The field at <paramref name="index"/>.</summary>
    public TunnelRequestHeader this[int index] => _headers[index];

    /// <summary>The values of the fields named <paramref name="name"/> joined with ", ", or null.</summary>
    public string? this[string name] => Get(name);

    /// <summary>The values of the fields named <paramref name="name"/> joined with ", ", or null.</summary>
    public string? Get(string name)
    {
        string[] values = GetAll(name);
        return values.Length == 0 ? null : string.Join(", ", values);
    }

    /// <summary>The values of every field named <paramref name="name"/>, in order.</summary>
    public string[] GetAll(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var values = new List<string>();
        foreach (TunnelRequestHeader header in _headers)
        {
            if (string.Equals(header.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                values.Add(header.Value);
            }
        }

        return [.. values];
    }

    /// <summary>Whether a field named <paramref name="name"/> is present.</summary>
    public bool Contains(string name) => GetAll(name).Length > 0;

    /// <summary>The fields in wire order.</summary>
    public IEnumerator<TunnelRequestHeader> GetEnumerator() => ((IEnumerable<TunnelRequestHeader>)_headers).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _headers.GetEnumerator();

    /// <summary>The fields, one "Name: Value" per line.</summary>
    public override string ToString() => string.Join(Environment.NewLine, _headers.Select(h => h.ToString()));
}
