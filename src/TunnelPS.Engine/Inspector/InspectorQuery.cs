using System.Globalization;
using System.Text;

namespace TunnelPS.Engine.Inspector;

/// <summary>The filters of GET /api/requests/http, as <see cref="InspectorClient"/> sends them (see <see cref="RequestQuery"/>).</summary>
public sealed record InspectorQuery
{
    /// <summary>Tunnel names; * and ? are wildcards.</summary>
    public IReadOnlyList<string>? TunnelNames { get; init; }

    public IReadOnlyList<string>? Methods { get; init; }

    /// <summary>Status codes ("200") or classes ("5xx").</summary>
    public IReadOnlyList<string>? Statuses { get; init; }

    /// <summary>A wildcard pattern (* and ?) for the path, or the path and query.</summary>
    public string? Path { get; init; }

    public IReadOnlyList<long>? Ids { get; init; }

    /// <summary>The newest N at most; null for all.</summary>
    public int? Limit { get; init; }

    /// <summary>"?tunnel_name=…&amp;…", or "" without filters.</summary>
    public string ToQueryString()
    {
        var text = new StringBuilder();
        void Add(string name, string value) => text.Append(text.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        foreach (var name in TunnelNames ?? [])
        {
            Add("tunnel_name", name);
        }
        foreach (var method in Methods ?? [])
        {
            Add("method", method);
        }
        foreach (var status in Statuses ?? [])
        {
            Add("status", status);
        }
        if (!string.IsNullOrEmpty(Path))
        {
            Add("path", Path);
        }
        foreach (var id in Ids ?? [])
        {
            Add("id", id.ToString(CultureInfo.InvariantCulture));
        }
        if (Limit is int limit)
        {
            Add("limit", limit.ToString(CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}
