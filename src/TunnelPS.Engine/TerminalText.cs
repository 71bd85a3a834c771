using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace TunnelPS.Engine;

/// <summary>
/// Makes text that came from a server, a visitor, a local service or a file safe to show on a terminal: no character
/// of it can act as a control (an escape sequence that sets the window title, clears the screen, moves the cursor or
/// fakes a prompt). The one place that decides this; every user-visible string built from remote text goes through it.
/// </summary>
/// <remarks>
/// Control characters are shown, not dropped, so that what was sent stays readable: C0 controls (U+0000-U+001F) as
/// their Unicode control pictures (ESC as ␛, BEL as ␇, one column each, so widths computed on the result hold) and DEL
/// as ␡; C1 controls (U+0080-U+009F, which a UTF-8 terminal may take as CSI and the like) as <c>\u009B</c>.
/// <see cref="Line"/> is for single-line fields (URLs, names, addresses, header fields, reasons, error texts): it shows
/// every control, TAB, CR and LF included, and also the bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029), with which a value could
/// reorder or split what is printed around it. <see cref="Lines"/> is for body texts: they keep TAB, LF and CR LF (and
/// bidirectional marks, which right-to-left text uses), and show every other control, a lone CR included (it would
/// return the cursor to the start of the line and overwrite what was printed). The raw bytes stay available where the
/// model keeps them (the body byte arrays, the capture itself).
/// </remarks>
public static class TerminalText
{
    private const char FirstControlPicture = '\u2400'; // ␀; U+2400 + c for every C0 control c
    private const char DeletePicture = '\u2421';       // ␡

    private static readonly SearchValues<char> s_lineUnsafe = SearchValues.Create(LineUnsafe());
    private static readonly SearchValues<char> s_linesUnsafe = SearchValues.Create(LinesUnsafe());

    /// <summary>
    /// <paramref name="text"/> for a single-line field: every control character, bidirectional formatting character
    /// and line separator shown visibly. The same instance when there is none (no allocation); null stays null.
    /// </summary>
    [return: NotNullIfNotNull(nameof(text))]
    public static string? Line(string? text) =>
        text is null || text.AsSpan().IndexOfAny(s_lineUnsafe) < 0 ? text : Escape(text, multiLine: false);

    /// <summary>
    /// <paramref name="text"/> for a multi-line text (a body): TAB, LF and CR LF kept, every other control character
    /// shown visibly. The same instance when there is none; null stays null.
    /// </summary>
    [return: NotNullIfNotNull(nameof(text))]
    public static string? Lines(string? text)
    {
        if (text is null)
        {
            return null;
        }

        ReadOnlySpan<char> span = text;
        int next = span.IndexOfAny(s_linesUnsafe);
        while (next >= 0)
        {
            if (!IsLineBreakCr(span, next))
            {
                return Escape(text, multiLine: true);
            }

            int after = span[(next + 1)..].IndexOfAny(s_linesUnsafe);
            next = after < 0 ? -1 : next + 1 + after;
        }

        return text;
    }

    private static string Escape(string text, bool multiLine)
    {
        var builder = new StringBuilder(text.Length + 16);
        ReadOnlySpan<char> span = text;
        SearchValues<char> escaped = multiLine ? s_linesUnsafe : s_lineUnsafe;
        for (int i = 0; i < span.Length; i++)
        {
            char c = span[i];
            if (!escaped.Contains(c) || (multiLine && IsLineBreakCr(span, i)))
            {
                builder.Append(c);
            }
            else if (c < ' ')
            {
                builder.Append((char)(FirstControlPicture + c));
            }
            else if (c == '\u007f')
            {
                builder.Append(DeletePicture);
            }
            else
            {
                // C1, bidirectional formatting and line separators have no control picture.
                builder.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static bool IsLineBreakCr(ReadOnlySpan<char> text, int index) =>
        text[index] == '\r' && index + 1 < text.Length && text[index + 1] == '\n';

    private static string LineUnsafe()
    {
        var chars = new StringBuilder();
        for (char c = '\0'; c < ' '; c++)
        {
            chars.Append(c);
        }

        for (char c = '\u007f'; c <= '\u009f'; c++)
        {
            chars.Append(c);
        }

        return chars.Append("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029").ToString();
    }

    private static string LinesUnsafe()
    {
        var chars = new StringBuilder();
        for (char c = '\0'; c < ' '; c++)
        {
            if (c is not ('\t' or '\n'))
            {
                chars.Append(c); // CR included: kept only before LF
            }
        }

        for (char c = '\u007f'; c <= '\u009f'; c++)
        {
            chars.Append(c);
        }

        return chars.ToString();
    }
}
