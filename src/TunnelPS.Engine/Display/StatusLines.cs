using System.Globalization;

namespace TunnelPS.Engine.Display;

/// <summary>
/// The plain-text form of the status screen, for a narrow or non-interactive host (output redirected, no console, a
/// runbook or CI): the session once at the start, then one line per status change and per request. No escape codes:
/// every text from a server, a visitor or the local service is written through <see cref="TerminalText.Line"/>.
/// </summary>
internal static class StatusLines
{
    /// <summary>The lines that open the view: version, status, servers, the web inspector, one per Forwarding URL.</summary>
    public static IReadOnlyList<string> Opening(StatusSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var lines = new List<string>
        {
            $"TunnelPS {Clean(snapshot.Version)}: session {Session(snapshot.Status, snapshot.Error)}; server {Clean(string.Join(", ", snapshot.Servers))}",
        };
        if (snapshot.InspectUrl is { } inspect)
        {
            lines.Add($"Web Interface {Clean(inspect)}");
        }

        lines.AddRange(snapshot.Forwardings.Select(f => $"Forwarding {Clean(f.PublicUrl)} -> {Clean(f.LocalAddress)}"));
        return lines;
    }

    /// <summary>A session status change: "14:02:11 session reconnecting: why".</summary>
    public static string StatusChange(DateTimeOffset time, string status, string? error) =>
        $"{Time(time)} session {Session(status, error)}";

    /// <summary>One request: "14:02:11.123 GET /path?q 200 OK 3.1ms", or a local failure with its reason.</summary>
    public static string Request(StatusRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string status = request.Status > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{request.Status} {Clean(request.Reason)}").TrimEnd()
            : "no response";
        if (request.IsLocalFailure)
        {
            return $"{Time(request.Time)} {status}: {Clean(request.Error ?? string.Empty)}";
        }

        string line = string.Create(CultureInfo.InvariantCulture,
            $"{Time(request.Time)} {Clean(request.Method)} {Clean(request.Target)} {status} {Duration(request.Duration)}");
        if (request.Error is { Length: > 0 } error)
        {
            line += " (" + Clean(error.ReplaceLineEndings(" ")) + ")";
        }

        return request.IsReplay ? line + " (replay)" : line;
    }

    private static string Session(string status, string? error) =>
        Clean(status) + (error is null ? string.Empty : ": " + Clean(error.ReplaceLineEndings(" ")));

    private static string Clean(string text) => TerminalText.Line(text);

    private static string Time(DateTimeOffset time) => time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan? duration) =>
        duration is { } d ? d.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + "ms" : "-";
}
