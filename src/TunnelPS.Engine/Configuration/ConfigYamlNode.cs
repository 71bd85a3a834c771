using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// A YAML node with its 1-based position, read by <see cref="ConfigYamlReader"/>. Unlike YamlDotNet's representation
/// model it keeps mapping entries in file order and lets the reader report duplicate keys with both positions.
/// </summary>
internal abstract class ConfigYamlNode(int line, int column)
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}

internal sealed class ConfigYamlScalar(string value, ScalarStyle style, int line, int column) : ConfigYamlNode(line, column)
{
    public string Value { get; } = value;

    public ScalarStyle Style { get; } = style;

    /// <summary>An empty value, <c>~</c> or <c>null</c> written plain.</summary>
    public bool IsNull => (Style is ScalarStyle.Plain or ScalarStyle.Any) && (Value is "" or "~" or "null" or "Null" or "NULL");
}

internal sealed class ConfigYamlMapping(IReadOnlyList<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>> entries, int line, int column) : ConfigYamlNode(line, column)
{
    public IReadOnlyList<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>> Entries { get; } = entries;
}

internal sealed class ConfigYamlSequence(IReadOnlyList<ConfigYamlNode> items, int line, int column) : ConfigYamlNode(line, column)
{
    public IReadOnlyList<ConfigYamlNode> Items { get; } = items;
}

/// <summary>Reads one YAML document into <see cref="ConfigYamlNode"/>s, reporting problems as <see cref="ConfigurationException"/>.</summary>
internal static class ConfigYamlReader
{
    private const int MaxDepth = 32;

    /// <summary>Returns the document's root, or null for an empty stream.</summary>
    public static ConfigYamlNode? Read(string yaml, string sourceName)
    {
        var parser = new Parser(new StringReader(yaml));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, sourceName, new Dictionary<string, ConfigYamlNode>(StringComparer.Ordinal), 0);
            parser.Consume<DocumentEnd>();
            if (parser.Current is DocumentStart second)
            {
                throw new ConfigurationException(sourceName, (int)second.Start.Line, (int)second.Start.Column,
                    "The file holds more than one YAML document", "Keep one document (remove the second '---' and what follows it).");
            }
            return root;
        }
        catch (YamlException ex)
        {
            throw TabIndentation(yaml, sourceName, ex) ?? new ConfigurationException(sourceName, (int)ex.Start.Line, (int)ex.Start.Column,
                $"YAML syntax error: {StripPosition(ex.Message)}", "Check the indentation, colons and quotes on this line and the one before it.", ex);
        }
        catch (ArgumentException ex)
        {
            // YamlDotNet refuses a tag that is not a valid URI ('!!a+b') with an ArgumentException from TagName and no
            // position: the tag is the first '!' after the last event it read.
            var (line, column) = NextTag(yaml, parser.Current?.End);
            throw TabIndentation(yaml, sourceName, ex) ?? new ConfigurationException(sourceName, line, column,
                "YAML syntax error: a tag (a value that starts with '!') is not valid", "Quote a value that starts with '!' (\"!value\"); TunnelPS files use no tags.", ex);
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet's scanner throws this (not a YamlException) on some malformed input, e.g. an unclosed '{'.
            var at = parser.Current?.Start;
            throw TabIndentation(yaml, sourceName, ex) ?? new ConfigurationException(sourceName, (int)(at?.Line ?? 1), (int)(at?.Column ?? 1),
                "YAML syntax error: the YAML cannot be read past this point", "Look for an unclosed '{', '[' or quote from here on.", ex);
        }
    }

    /// <summary>The 1-based line and column of the first '!' at or after <paramref name="after"/> (the start of the text without it; that mark when there is none).</summary>
    private static (int Line, int Column) NextTag(string yaml, Mark? after)
    {
        var from = (int)Math.Clamp(after?.Index ?? 0, 0, yaml.Length);
        var bang = yaml.IndexOf('!', from);
        if (bang < 0)
        {
            return ((int)Math.Max(1, after?.Line ?? 1), (int)Math.Max(1, after?.Column ?? 1));
        }
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < bang; i++)
        {
            if (yaml[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }
        return (line, bang - lineStart + 1);
    }

    /// <summary>A clearer error than the parser's when a line is indented with a tab, which YAML forbids.</summary>
    private static ConfigurationException? TabIndentation(string yaml, string sourceName, Exception inner)
    {
        var lines = yaml.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var indent = line.Length - line.TrimStart(' ', '\t').Length;
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab >= 0 && tab < indent && line.Trim().Length > 0)
            {
                return new ConfigurationException(sourceName, i + 1, tab + 1, "YAML syntax error: a tab indents this line", "Indent with spaces; YAML does not allow tabs for indentation.", inner);
            }
        }
        return null;
    }

    private static ConfigYamlNode ReadNode(IParser parser, string source, Dictionary<string, ConfigYamlNode> anchors, int depth)
    {
        if (depth > MaxDepth)
        {
            var at = parser.Current!.Start;
            throw new ConfigurationException(source, (int)at.Line, (int)at.Column, $"The YAML is nested deeper than {MaxDepth} levels", "A TunnelPS config is at most three levels deep; check the indentation.");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            var node = new ConfigYamlScalar(scalar.Value, scalar.Style, (int)scalar.Start.Line, (int)scalar.Start.Column);
            Remember(anchors, scalar.Anchor, node);
            return node;
        }
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target))
            {
                return target;
            }
            throw new ConfigurationException(source, (int)alias.Start.Line, (int)alias.Start.Column, $"The alias '*{alias.Value.Value}' refers to no anchor defined before it", "Define '&" + alias.Value.Value + "' earlier in the file or write the value out.");
        }
        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            var items = new List<ConfigYamlNode>();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                items.Add(ReadNode(parser, source, anchors, depth + 1));
            }
            var node = new ConfigYamlSequence(items, (int)sequenceStart.Start.Line, (int)sequenceStart.Start.Column);
            Remember(anchors, sequenceStart.Anchor, node);
            return node;
        }
        if (parser.TryConsume<MappingStart>(out var mappingStart))
        {
            var entries = new List<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>>();
            var seen = new Dictionary<string, ConfigYamlScalar>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyNode = ReadNode(parser, source, anchors, depth + 1);
                if (keyNode is not ConfigYamlScalar key)
                {
                    throw new ConfigurationException(source, keyNode.Line, keyNode.Column, "A key is a list or a map", "Keys are plain names such as 'tunnels' or 'proto'.");
                }
                if (seen.TryGetValue(key.Value, out var first))
                {
                    throw new ConfigurationException(source, key.Line, key.Column,
                        $"Duplicate key '{key.Value}' (first defined at line {first.Line}, column {first.Column})", "Remove one of the two or merge them.");
                }
                seen.Add(key.Value, key);
                entries.Add(new(key, ReadNode(parser, source, anchors, depth + 1)));
            }
            var node = new ConfigYamlMapping(entries, (int)mappingStart.Start.Line, (int)mappingStart.Start.Column);
            Remember(anchors, mappingStart.Anchor, node);
            return node;
        }
        var unexpected = parser.Current!;
        throw new ConfigurationException(source, (int)unexpected.Start.Line, (int)unexpected.Start.Column, $"Unexpected YAML element {unexpected.GetType().Name}", "Check the YAML syntax.");
    }

    private static void Remember(Dictionary<string, ConfigYamlNode> anchors, AnchorName anchor, ConfigYamlNode node)
    {
        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }
    }

    /// <summary>YamlDotNet prefixes messages with "(Line: 1, Col: 2, Idx: 1) - (Line: ...): "; the position is in ours.</summary>
    private static string StripPosition(string message)
    {
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        var text = message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
        return text.Trim().TrimEnd('.');
    }
}
