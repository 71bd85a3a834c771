using System.Globalization;
using System.Text.RegularExpressions;
using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The filters of GET /api/requests/http (and of the HAR download): tunnel_name, method, status (200 or a class such
/// as 5xx), path (a wildcard pattern with * and ?, matched against the path, or the path and query), id, limit (the
/// newest N). Names, methods and statuses may repeat or be comma-separated; a request passes when it matches one
/// value of every filter given.
/// </summary>
internal sealed class RequestQuery
{
    private readonly List<Regex> _tunnels;
    private readonly List<string> _methods;
    private readonly List<string> _statuses;
    private readonly Regex? _path;
    private readonly HashSet<long>? _ids;

    private RequestQuery(List<Regex> tunnels, List<string> methods, List<string> statuses, Regex? path, HashSet<long>? ids, int limit)
    {
        _tunnels = tunnels;
        _methods = methods;
        _statuses = statuses;
        _path = path;
        _ids = ids;
        Limit = limit;
    }

    /// <summary>The newest N at most; -1 for all.</summary>
    public int Limit { get; }

    /// <summary>The query of <paramref name="request"/>, or the reason it is malformed.</summary>
    public static RequestQuery? Parse(InspectorRequest request, out string? error)
    {
        error = null;
        var limit = -1;
        if (request.Query("limit") is { } limitText && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit)))
        {
            error = $"limit '{limitText}' is not a number.";
            return null;
        }
        var statuses = request.QueryList("status");
        foreach (var status in statuses)
        {
            if (!IsStatusPattern(status))
            {
                error = $"status '{status}' is not a status code (200) or class (5xx).";
                return null;
            }
        }
        HashSet<long>? ids = null;
        var idTexts = request.QueryList("id");
        if (idTexts.Count > 0)
        {
            ids = [];
            foreach (var text in idTexts)
            {
                if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    error = $"id '{text}' is not a request id.";
                    return null;
                }
                ids.Add(id);
            }
        }
        var path = request.Query("path");
        return new RequestQuery(request.QueryList("tunnel_name").ConvertAll(Wildcard), request.QueryList("method"), statuses, string.IsNullOrEmpty(path) ? null : Wildcard(path), ids, limit);
    }

    /// <summary>The matching exchanges of every capture, newest first, at most <see cref="Limit"/>.</summary>
    public List<CapturedExchange> Select(IReadOnlyList<InspectedCapture> captures)
    {
        var selected = new List<CapturedExchange>();
        foreach (var capture in captures)
        {
            foreach (var exchange in capture.Store.Snapshot())
            {
                if (IsMatch(exchange))
                {
                    selected.Add(exchange);
                }
            }
        }
        // Ids come from one process-wide sequence: their order is the order of capture.
        selected.Sort(static (a, b) => b.Id.CompareTo(a.Id));
        if (Limit >= 0 && selected.Count > Limit)
        {
            selected.RemoveRange(Limit, selected.Count - Limit);
        }
        return selected;
    }

    /// <summary>True when <paramref name="tunnelName"/> passes the tunnel_name filter.</summary>
    public bool MatchesTunnel(string tunnelName) =>
        _tunnels.Count == 0 || _tunnels.Exists(t => t.IsMatch(tunnelName));

    private bool IsMatch(CapturedExchange e)
    {
        if (_ids is not null && !_ids.Contains(e.Id))
        {
            return false;
        }
        if (!MatchesTunnel(e.TunnelName))
        {
            return false;
        }
        if (_methods.Count > 0 && !_methods.Exists(m => m.Equals(e.Method, StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }
        if (_statuses.Count > 0 && !_statuses.Exists(s => StatusMatches(s, e.Status)))
        {
            return false;
        }
        return _path is null || _path.IsMatch(e.Path) || _path.IsMatch(e.Target);
    }

    private static bool IsStatusPattern(string text) =>
        text.Length == 3 && char.IsAsciiDigit(text[0]) && (
            (char.IsAsciiDigit(text[1]) && char.IsAsciiDigit(text[2]))
            || (char.ToLowerInvariant(text[1]) == 'x' && char.ToLowerInvariant(text[2]) == 'x'));

    private static bool StatusMatches(string pattern, int status)
    {
        var code = status.ToString("000", CultureInfo.InvariantCulture);
        return char.ToLowerInvariant(pattern[1]) == 'x' ? code[0] == pattern[0] : code == pattern;
    }

    /// <summary>A case-insensitive whole-string match for a pattern with * (any run) and ? (any one character).</summary>
    private static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
}
