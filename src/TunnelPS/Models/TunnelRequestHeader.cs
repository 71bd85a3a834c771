namespace TunnelPS;

/// <summary>One header field of a captured request or response, as it was on the wire.</summary>
public sealed class TunnelRequestHeader
{
    internal TunnelRequestHeader(string name, string value)
    {
        Name = name;
        Value = value;
    }

    /// <summary>The field name, in the case it was sent.</summary>
    public string Name { get; }

    /// <summary>The field value.</summary>
    public string Value { get; }

    /// <summary>"Name: Value".</summary>
    public override string ToString() => $"{Name}: {Value}";
}
