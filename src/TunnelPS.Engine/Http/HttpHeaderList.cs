using System.Collections;

namespace TunnelPS.Engine.Http;

/// <summary>
/// The header fields of an HTTP message in wire order, keeping duplicates and the original case of names.
/// Lookups are case-insensitive (ordinal). Not thread-safe.
/// </summary>
public sealed class HttpHeaderList : IReadOnlyList<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _items;

    public HttpHeaderList() => _items = new List<KeyValuePair<string, string>>(12);

    public HttpHeaderList(int capacity) => _items = new List<KeyValuePair<string, string>>(capacity);

    public HttpHeaderList(IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        _items = new List<KeyValuePair<string, string>>(12);
        foreach (var header in headers)
        {
            Add(header.Key, header.Value);
        }
    }

    /// <summary>The number of header fields (duplicates counted).</summary>
    public int Count => _items.Count;

    /// <summary>The field at <paramref name="index"/> in wire order.</summary>
    public KeyValuePair<string, string> this[int index] => _items[index];

    /// <summary>The value of the first field named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? this[string name]
    {
        get
        {
            var items = _items;
            for (var i = 0; i < items.Count; i++)
            {
                if (string.Equals(items[i].Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return items[i].Value;
                }
            }
            return null;
        }
    }

    /// <summary>True if at least one field is named <paramref name="name"/>.</summary>
    public bool Contains(string name) => IndexOf(name, 0) >= 0;

    /// <summary>Every value of the fields named <paramref name="name"/>, in order.</summary>
    public IEnumerable<string> GetValues(string name)
    {
        for (var i = 0; i < _items.Count; i++)
        {
            if (string.Equals(_items[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                yield return _items[i].Value;
            }
        }
    }

    /// <summary>Appends a field, keeping any existing fields of the same name.</summary>
    public void Add(string name, string value)
    {
        ValidateName(name);
        ValidateValue(name, value);
        _items.Add(new KeyValuePair<string, string>(name, value));
    }

    /// <summary>Replaces every field named <paramref name="name"/> by one field, at the position of the first one (or at the end).</summary>
    public void Set(string name, string value)
    {
        ValidateName(name);
        ValidateValue(name, value);
        var first = IndexOf(name, 0);
        if (first < 0)
        {
            _items.Add(new KeyValuePair<string, string>(name, value));
            return;
        }
        _items[first] = new KeyValuePair<string, string>(name, value);
        for (var i = _items.Count - 1; i > first; i--)
        {
            if (string.Equals(_items[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                _items.RemoveAt(i);
            }
        }
    }

    /// <summary>Removes every field named <paramref name="name"/>; true if any was removed.</summary>
    public bool Remove(string name) => _items.RemoveAll(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) > 0;

    /// <summary>Removes every field.</summary>
    public void Clear() => _items.Clear();

    /// <summary>True if a field named <paramref name="name"/> holds <paramref name="token"/> in its comma-separated list (case-insensitive).</summary>
    public bool ContainsToken(string name, string token)
    {
        for (var i = 0; i < _items.Count; i++)
        {
            if (string.Equals(_items[i].Key, name, StringComparison.OrdinalIgnoreCase) && HasToken(_items[i].Value, token))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A copy of the fields as an array, for snapshots.</summary>
    public KeyValuePair<string, string>[] ToArray() => _items.ToArray();

    public List<KeyValuePair<string, string>>.Enumerator GetEnumerator() => _items.GetEnumerator();

    IEnumerator<KeyValuePair<string, string>> IEnumerable<KeyValuePair<string, string>>.GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <summary>Adds a field the parser already validated.</summary>
    internal void AddUnchecked(string name, string value) => _items.Add(new KeyValuePair<string, string>(name, value));

    internal int IndexOf(string name, int start)
    {
        for (var i = start; i < _items.Count; i++)
        {
            if (string.Equals(_items[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }

    internal static bool HasToken(string value, string token)
    {
        var span = value.AsSpan();
        while (!span.IsEmpty)
        {
            var comma = span.IndexOf(',');
            var item = (comma < 0 ? span : span[..comma]).Trim(" \t");
            if (item.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
            if (comma < 0)
            {
                break;
            }
            span = span[(comma + 1)..];
        }
        return false;
    }

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        foreach (var c in name)
        {
            if (c > 127 || !HttpHeadParser.IsTokenChar((byte)c))
            {
                throw new ArgumentException($"'{name}' is not a valid HTTP header name.", nameof(name));
            }
        }
    }

    private static void ValidateValue(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        foreach (var c in value)
        {
            if (c > 255 || (c < 32 && c != '\t') || c == 127)
            {
                throw new ArgumentException($"The value of header '{name}' holds a character not allowed in an HTTP header value.", nameof(value));
            }
        }
    }
}
