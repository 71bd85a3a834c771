using System.Globalization;

namespace TunnelPS.Bench.Soak;

/// <summary>A parsed request or response head: the start line's parts and the few fields the soak needs.</summary>
internal sealed record HttpHead(string StartLine, string Method, string Target, int Status, IReadOnlyList<KeyValuePair<string, string>> Fields)
{
    public string? Field(string name) => Fields.FirstOrDefault(f => string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public long? ContentLength => long.TryParse(Field("Content-Length"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    public bool IsChunked => Field("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true;

    public bool WantsClose => Field("Connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true;

    public bool IsUpgrade => Field("Upgrade") is not null && Field("Connection")?.Contains("upgrade", StringComparison.OrdinalIgnoreCase) == true;

    public static HttpHead Parse(string text)
    {
        var lines = text.Split("\r\n");
        var parts = lines[0].Split(' ', 3);
        var status = 0;
        string method = "", target = "";
        if (parts[0].StartsWith("HTTP/", StringComparison.Ordinal))
        {
            if (parts.Length < 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out status))
            {
                throw new InvalidDataException("bad status line '" + lines[0] + "'");
            }
        }
        else if (parts.Length == 3)
        {
            method = parts[0];
            target = parts[1];
        }
        else
        {
            throw new InvalidDataException("bad request line");
        }
        var fields = new List<KeyValuePair<string, string>>();
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException("bad header line");
            }
            fields.Add(new(lines[i][..colon].Trim(), lines[i][(colon + 1)..].Trim()));
        }
        return new HttpHead(lines[0], method, target, status, fields);
    }
}
