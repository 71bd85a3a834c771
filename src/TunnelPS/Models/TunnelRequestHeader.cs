using TunnelPS.Engine;

namespace TunnelPS;

/// <summary>
/// One header field of a captured request or response, as it was on the wire; a control character in it (which a visitor
/// or a HAR file could put there) is shown visibly (<see cref="TerminalText.Line"/>).
/// </summary>
public sealed class TunnelRequestHeader
{
    internal TunnelRequestHeader(string name, string value)
    {
        Name = TerminalText.Line(name);
        Value = TerminalText.Line(value);
    }

    /// <summary>The field name, in the case it was sent.</summary>
    public string Name { get; }

    /// <summary>The field value.</summary>
    public string Value { get; }

    /// <summary>"Name: Value".</summary>
    public override string ToString() => $"{Name}: {Value}";
}
