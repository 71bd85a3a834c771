using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TunnelPS.Completers;

/// <summary>What the completers share: the typed text as a wildcard prefix, quoting, and reading other bound parameters.</summary>
internal static class CompletionValue
{
    /// <summary>The typed text (quotes stripped) followed by <c>*</c>, case-insensitive.</summary>
    internal static WildcardPattern Prefix(string? wordToComplete) =>
        new((wordToComplete ?? string.Empty).Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);

    /// <summary><paramref name="value"/> in single quotes when PowerShell would not read it as one plain argument.</summary>
    internal static string Quote(string value) =>
        value.Length == 0 || value.Any(c => char.IsWhiteSpace(c) || "'\"`$&@(){}[];,|<>#*?".Contains(c))
            ? "'" + CodeGeneration.EscapeSingleQuotedStringContent(value) + "'"
            : value;

    /// <summary>A parameter value completion for <paramref name="value"/> (quoted as needed), with its tooltip.</summary>
    internal static CompletionResult Result(string value, string toolTip, string? listItemText = null) =>
        new(Quote(value), listItemText ?? value, CompletionResultType.ParameterValue, string.IsNullOrEmpty(toolTip) ? value : toolTip);

    /// <summary>
    /// The values of another parameter already typed on the line (a word or number, or a comma list of them) as
    /// strings, or null when it is not bound; anything else (a variable's object, an expression) is left out.
    /// </summary>
    internal static string[]? Strings(IDictionary? fakeBoundParameters, string parameterName)
    {
        if (fakeBoundParameters is null || !fakeBoundParameters.Contains(parameterName))
        {
            return null;
        }

        object? value = fakeBoundParameters[parameterName];
        if (value is PSObject wrapped)
        {
            value = wrapped.BaseObject;
        }

        return value switch
        {
            string text => [text],
            IEnumerable items => items.Cast<object?>()
                .Select(i => Text(i is PSObject p ? p.BaseObject : i))
                .OfType<string>()
                .ToArray(),
            _ => Text(value) is { } single ? [single] : null,
        };
    }

    // 3000 on the line arrives as an int.
    private static string? Text(object? value) => value switch
    {
        string text => text,
        int or long or double or decimal => Convert.ToString(value, CultureInfo.InvariantCulture),
        _ => null,
    };
}
