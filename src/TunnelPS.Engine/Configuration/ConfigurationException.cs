namespace TunnelPS.Engine.Configuration;

/// <summary>
/// A configuration file cannot be used. The message reads <c>&lt;file&gt;:&lt;line&gt;:&lt;column&gt;: &lt;what was
/// wrong&gt;. &lt;what to do&gt;</c>; <see cref="Path"/>, <see cref="Line"/> and <see cref="Column"/> carry the same
/// position (1-based; 0 when the problem is not at one place, such as a missing file). <see cref="Kind"/> is
/// <see cref="TunnelErrorKind.NotFound"/> for a missing file and <see cref="TunnelErrorKind.InvalidConfiguration"/>
/// otherwise. A problem quotes values from the file: their control characters are shown visibly
/// (<see cref="TerminalText.Line"/>), in the message and in <see cref="Problem"/>.
/// </summary>
public sealed class ConfigurationException : TunnelException
{
    private readonly TunnelErrorKind _kind = TunnelErrorKind.InvalidConfiguration;

    public ConfigurationException() { }
    public ConfigurationException(string message) : base(message) { }
    public ConfigurationException(string message, Exception inner) : base(message, inner) { }

    /// <summary>A problem at a position in a file: the message becomes <c>path:line:column: problem. remedy</c>.</summary>
    public ConfigurationException(string path, int line, int column, string problem, string remedy, Exception? inner = null)
        : base(Format(path, line, column, problem, remedy), inner!)
    {
        Path = path;
        Line = line;
        Column = column;
        Problem = TerminalText.Line(problem);
    }

    private ConfigurationException(string path, string message, TunnelErrorKind kind, Exception? inner)
        : base(message, inner!)
    {
        Path = path;
        _kind = kind;
    }

    /// <inheritdoc />
    public override TunnelErrorKind Kind => _kind;

    /// <summary>The file (or source name) the problem is in.</summary>
    public string? Path { get; }

    /// <summary>1-based line of the problem; 0 when not at a position.</summary>
    public int Line { get; }

    /// <summary>1-based column of the problem; 0 when not at a position.</summary>
    public int Column { get; }

    /// <summary>What was wrong, without position or remedy.</summary>
    public string? Problem { get; }

    /// <summary>A file of the given kind ("config file", "token file") does not exist; <paramref name="remedy"/> says what to do.</summary>
    public static ConfigurationException FileNotFound(string path, string kind, string remedy, Exception? inner = null) =>
        new(path, $"The TunnelPS {kind} '{path}' does not exist. {remedy}", TunnelErrorKind.NotFound, inner);

    /// <summary>The config file exists but cannot be read or written.</summary>
    public static ConfigurationException FileAccess(string path, string action, Exception inner) =>
        FileAccess(path, action, "config file", inner);

    /// <summary>A file of the given kind exists but cannot be read or written.</summary>
    public static ConfigurationException FileAccess(string path, string action, string kind, Exception inner) =>
        new(path, $"Cannot {action} the TunnelPS {kind} '{path}': {inner?.Message}", TunnelErrorKind.InvalidConfiguration, inner);

    private static string Format(string path, int line, int column, string problem, string remedy)
    {
        var what = TerminalText.Line(problem).TrimEnd('.');
        return string.IsNullOrEmpty(remedy) ? $"{path}:{line}:{column}: {what}." : $"{path}:{line}:{column}: {what}. {remedy}";
    }
}
