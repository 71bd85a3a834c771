using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace TunnelPS.Engine.Display;

/// <summary>
/// Draws a <see cref="StatusSnapshot"/> as a full-screen frame with Spectre.Console (the classic tunnel status screen:
/// session status, version, servers, one Forwarding line per URL, the web inspector, connection and request figures,
/// then the latest requests with 4xx/5xx coloured), and the escape sequences that open and close the screen.
/// </summary>
/// <remarks>
/// A frame is rendered off screen to a string sized to the terminal, then written in one piece from the top-left
/// corner, each line cleared to its end, so that it replaces the previous frame in place without flicker. The screen
/// runs in the terminal's alternate buffer with the cursor hidden; <see cref="Leave"/> restores both. Every text from a
/// server, a visitor or the local service (URLs, reasons, methods, targets, errors) is drawn through
/// <see cref="TerminalText.Line"/>, so the only escape sequences in a frame are the screen's own; Spectre's
/// <see cref="Text"/> is used for them, never markup, so brackets in them are not read as styles either.
/// </remarks>
public sealed class StatusScreen
{
    /// <summary>Below this many columns the screen does not fit: use plain lines (<see cref="StatusLines"/>).</summary>
    public const int MinimumWidth = 60;

    /// <summary>Switches to the alternate screen buffer, hides the cursor and clears.</summary>
    public const string Enter = "\u001b[?1049h\u001b[?25l\u001b[H\u001b[2J";

    /// <summary>Shows the cursor, resets colours and returns to the normal buffer (its text and cursor as they were).</summary>
    public const string Leave = "\u001b[0m\u001b[?25h\u001b[?1049l";

    private const string ClearToLineEnd = "\u001b[K";
    private const string ClearToScreenEnd = "\u001b[J";
    private const string Home = "\u001b[H";
    private const int LabelWidth = 18;

    private static readonly Style s_label = new(Color.Grey);
    private static readonly Style s_title = new(Color.Teal, decoration: Decoration.Bold);
    private static readonly Style s_hint = new(Color.Grey);
    private static readonly Style s_plain = Style.Plain;

    /// <summary>The line at the top right, e.g. "(Ctrl+C to quit)".</summary>
    public string Hint { get; init; } = "(Ctrl+C to quit)";

    /// <summary>The frame for <paramref name="snapshot"/> on a terminal of <paramref name="width"/> x <paramref name="height"/>, ready to write.</summary>
    public string RenderFrame(StatusSnapshot snapshot, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        string[] lines = width < MinimumWidth || height < 3
            ? NarrowLines(snapshot, Math.Max(1, width), Math.Max(1, height)) // resized below what the screen needs
            : RenderLines(snapshot, width, Math.Max(10, height));
        var frame = new StringBuilder(Home, (width + 16) * lines.Length + 16);
        for (int i = 0; i < lines.Length; i++)
        {
            frame.Append(lines[i]).Append(ClearToLineEnd);
            if (i < lines.Length - 1)
            {
                frame.Append("\r\n");
            }
        }

        return frame.Append(ClearToScreenEnd).ToString();
    }

    /// <summary>The frame's lines with their colour sequences, at most <paramref name="height"/> of them.</summary>
    internal string[] RenderLines(StatusSnapshot snapshot, int width, int height)
    {
        var head = new List<IRenderable>
        {
            TitleRow(width),
            Text.Empty,
            Pair("Session Status", new Text(Clean(snapshot.Status), StatusStyle(snapshot.Status))),
        };
        if (snapshot.Error is { } error)
        {
            head.Add(Pair("Error", new Text(OneLine(error), new Style(Color.Red))));
        }

        head.Add(Pair("Version", new Text(Clean(snapshot.Version))));
        head.Add(Pair("Server", new Text(Clean(string.Join(", ", snapshot.Servers)))));
        if (snapshot.InspectUrl is { } inspect)
        {
            head.Add(Pair("Web Interface", new Text(Clean(inspect))));
        }

        foreach (StatusForwarding forwarding in snapshot.Forwardings)
        {
            string target = Clean($"{forwarding.PublicUrl} -> {forwarding.LocalAddress}");
            head.Add(Pair("Forwarding", forwarding.Status == snapshot.Status || forwarding.Status == "online"
                ? new Text(target)
                : new Paragraph().Append(target + " ", s_plain).Append($"({Clean(forwarding.Status)})", StatusStyle(forwarding.Status))));
        }

        head.Add(Text.Empty);
        head.Add(Figures("Connections", ["ttl", "opn"], [Count(snapshot.ConnectionsTotal), Count(snapshot.ConnectionsOpen)]));
        head.Add(Figures("Requests", ["ttl", "/min", "p50", "p90"],
            [Count(snapshot.RequestsTotal), Count(snapshot.RequestsPerMinute), Milliseconds(snapshot.P50), Milliseconds(snapshot.P90)]));
        if (snapshot.LocalFailures > 0 && snapshot.LastLocalFailure is { } failure)
        {
            string when = failure.Time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
            head.Add(Pair("Local Failures", new Text(
                string.Create(CultureInfo.InvariantCulture, $"{snapshot.LocalFailures} ({(failure.Status > 0 ? failure.Status.ToString(CultureInfo.InvariantCulture) : "closed")} sent), last at {when}: {OneLine(failure.Reason)}"),
                new Style(Color.Red))));
        }

        head.Add(Text.Empty);
        head.Add(new Text("HTTP Requests", new Style(decoration: Decoration.Bold)));
        head.Add(new Text("-------------", s_label));

        string[] headLines = Render(new Rows(head), width, height);
        int room = height - headLines.Length;
        if (room <= 0)
        {
            return headLines.Take(height).ToArray();
        }

        IRenderable requests = snapshot.Requests.Count == 0
            ? new Text(snapshot.UncapturedTunnels == snapshot.Forwardings.Count ? "(not captured: tcp or -NoInspect)" : "(none yet)", s_hint)
            : RequestTable(snapshot.Requests.Take(room).ToList(), width);
        string[] requestLines = Render(requests, width, height);
        return [.. headLines, .. requestLines.Take(room)];
    }

    /// <summary>What a window made narrower than <see cref="MinimumWidth"/> shows until it is widened again.</summary>
    internal static string[] NarrowLines(StatusSnapshot snapshot, int width, int height)
    {
        string[] lines =
        [
            $"TunnelPS: session {snapshot.Status}",
            $"{snapshot.RequestsTotal} requests, {snapshot.ConnectionsOpen} open",
            $"Widen the window to {MinimumWidth} columns",
        ];
        return lines.Take(height).Select(l => Cut(l, width)).ToArray();
    }

    /// <summary>The style of a status name: green online, yellow on the way, red failed or degraded.</summary>
    internal static Style StatusStyle(string status) => status switch
    {
        "online" => new Style(Color.Green),
        "connecting" or "reconnecting" => new Style(Color.Yellow),
        "stopped" => new Style(Color.Grey),
        _ => new Style(Color.Red), // failed, degraded, and whatever is added later
    };

    /// <summary>The style of an HTTP status: 5xx (and none) red, 4xx yellow, 3xx teal, 2xx green.</summary>
    internal static Style HttpStatusStyle(int status) => status switch
    {
        >= 500 or <= 0 => new Style(Color.Red),
        >= 400 => new Style(Color.Yellow),
        >= 300 => new Style(Color.Teal),
        _ => new Style(Color.Green),
    };

    private IRenderable TitleRow(int width)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().NoWrap());
        grid.AddColumn(new GridColumn().RightAligned().NoWrap());
        grid.Width = width;
        grid.AddRow(new Text("TunnelPS", s_title), new Text(Hint, s_hint));
        return grid;
    }

    private static Table RequestTable(IReadOnlyList<StatusRequest> requests, int width)
    {
        // Fixed column widths, the path taking what is left and cut with an ellipsis: a long path never wraps a row
        // (a wrapped row would push the newest requests off the screen).
        var rows = requests.Select(r => (Request: r, Method: r.IsLocalFailure ? "-" : Clean(r.Method), Status: StatusText(r), Path: PathText(r))).ToList();
        int methodWidth = Math.Clamp(rows.Max(r => r.Method.Length), 3, 8);
        int statusWidth = Math.Clamp(rows.Max(r => r.Status.Length), 6, 28);
        const int TimeWidth = 12;
        const int DurationWidth = 7;
        int pathWidth = Math.Max(8, width - (TimeWidth + 2) - (methodWidth + 1) - (statusWidth + 1) - DurationWidth - 1);

        var table = new Table().Border(TableBorder.None).HideHeaders();
        table.AddColumn(new TableColumn("Time").Width(TimeWidth).NoWrap().PadLeft(0).PadRight(2));
        table.AddColumn(new TableColumn("Method").Width(methodWidth).NoWrap().PadLeft(0).PadRight(1));
        table.AddColumn(new TableColumn("Path").Width(pathWidth).NoWrap().PadLeft(0).PadRight(1));
        table.AddColumn(new TableColumn("Status").Width(statusWidth).NoWrap().PadLeft(0).PadRight(1));
        table.AddColumn(new TableColumn("Duration").Width(DurationWidth).NoWrap().RightAligned().PadLeft(0).PadRight(0));
        foreach (var row in rows)
        {
            table.AddRow(
                new Text(row.Request.Time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), s_label),
                new Text(Cut(row.Method, methodWidth)),
                new Text(Cut(row.Path, pathWidth)),
                new Text(Cut(row.Status, statusWidth), HttpStatusStyle(row.Request.Status)),
                new Text(Cut(Milliseconds(row.Request.Duration), DurationWidth)));
        }

        return table;
    }

    private static string StatusText(StatusRequest request) => request.Status > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{request.Status} {Clean(request.Reason)}").TrimEnd()
        : "no response";

    private static string PathText(StatusRequest request)
    {
        if (request.IsLocalFailure)
        {
            return OneLine(request.Error ?? string.Empty);
        }

        string path = Clean(request.Target);
        if (request.Error is { Length: > 0 } error)
        {
            path += " (" + OneLine(error) + ")";
        }

        return request.IsReplay ? path + " (replay)" : path;
    }

    /// <summary><paramref name="text"/> cut to <paramref name="width"/> characters, the cut marked with "...".</summary>
    internal static string Cut(string text, int width) =>
        text.Length <= width ? text : width <= 3 ? text[..width] : string.Concat(text.AsSpan(0, width - 3), "...");

    private static Grid Pair(string label, IRenderable value)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().Width(LabelWidth).NoWrap().PadRight(0));
        grid.AddColumn(new GridColumn().PadLeft(0));
        grid.AddRow(new Text(label, s_label), value);
        return grid;
    }

    private static Grid Figures(string label, string[] names, string[] values)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().Width(LabelWidth).NoWrap().PadRight(0));
        foreach (string _ in names)
        {
            grid.AddColumn(new GridColumn().Width(8).NoWrap().PadLeft(0).PadRight(0));
        }

        grid.AddRow([new Text(label, s_label), .. names.Select(n => new Text(n, s_label))]);
        grid.AddRow([Text.Empty, .. values.Select(v => new Text(v))]);
        return grid;
    }

    private static string[] Render(IRenderable renderable, int width, int height)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.Standard,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        console.Profile.Height = height;
        console.Write(renderable);
        string text = writer.ToString().Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n');
        return text.Split('\n');
    }

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Milliseconds(TimeSpan? value) => value switch
    {
        null => "-",
        { TotalMilliseconds: < 10 } v => v.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + "ms",
        { TotalSeconds: < 10 } v => v.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + "ms",
        { } v => v.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s",
    };

    private static string OneLine(string text) => Clean(text.ReplaceLineEndings(" "));

    /// <summary>Text from a peer as it may be drawn: every control character shown visibly (<see cref="TerminalText.Line"/>).</summary>
    internal static string Clean(string text) => TerminalText.Line(text);
}
