using System.Globalization;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// What the server's YAML readers (the server config file and the token file) share: single values, lists and whole
/// numbers read from a key's value, and errors that name the file, line and column with what to write instead.
/// </summary>
internal abstract class ConfigValueReader(string source)
{
    /// <summary>The file read (as the errors name it).</summary>
    protected string Source { get; } = source;

    /// <summary>A key's single value, trimmed (null when empty); a map or a list there is an error.</summary>
    protected string? Scalar(ConfigYamlScalar key, ConfigYamlNode node)
    {
        if (node is ConfigYamlScalar scalar)
        {
            return scalar.IsNull ? null : scalar.Value.Trim();
        }
        throw Fail(node, $"'{key.Value}' must be a single value, not a {(node is ConfigYamlMapping ? "map" : "list")}", $"Write it on one line: '{key.Value}: <value>'.");
    }

    /// <summary>A key's items: a single value is a list of one; an empty item is an error.</summary>
    protected IEnumerable<(ConfigYamlNode Node, string Text)> Items(ConfigYamlScalar key, ConfigYamlNode value)
    {
        switch (value)
        {
            case ConfigYamlScalar { IsNull: true }:
                yield break;
            case ConfigYamlScalar scalar:
                yield return (scalar, scalar.Value.Trim());
                yield break;
            case ConfigYamlSequence sequence:
                foreach (var item in sequence.Items)
                {
                    yield return (item, Scalar(key, item) ?? throw Fail(item, $"An item of '{key.Value}' is empty", "Remove the empty item."));
                }
                yield break;
            default:
                throw Fail(value, $"'{key.Value}' must be a list", $"Write it as '{key.Value}: [a, b]'.");
        }
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/> (null when empty).</summary>
    protected int? Int(ConfigYamlScalar key, ConfigYamlNode value, int min, int max, bool allowSign = false)
    {
        var text = Scalar(key, value);
        if (text is null)
        {
            return null;
        }
        var styles = allowSign ? NumberStyles.AllowLeadingSign : NumberStyles.None;
        if (!int.TryParse(text, styles, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw Fail(value, $"'{key.Value}' is '{text}'", string.Create(CultureInfo.InvariantCulture, $"Use a whole number from {min} to {max}."));
        }
        return n;
    }

    /// <summary>An error at <paramref name="node"/>'s line and column.</summary>
    protected ConfigurationException Fail(ConfigYamlNode node, string problem, string remedy) =>
        new(Source, node.Line, node.Column, problem, remedy);
}
