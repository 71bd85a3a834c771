namespace TunnelPS.Engine.Tests;

public sealed class TerminalTextTests
{
    /// <summary>Sets the window title, then clears the screen: what a hostile server or visitor sends.</summary>
    internal const string Hostile = "http://x.example.test\u001b]0;pwned\u0007\u001b[2J";

    [Fact]
    public void A_title_and_clear_screen_sequence_is_shown_as_control_pictures()
    {
        Assert.Equal("http://x.example.test␛]0;pwned␇␛[2J", TerminalText.Line(Hostile));
        Assert.Equal("http://x.example.test␛]0;pwned␇␛[2J", TerminalText.Lines(Hostile));
    }

    [Fact]
    public void A_single_line_field_shows_tab_cr_lf_del_c1_bidi_and_line_separators()
    {
        Assert.Equal("a␉b␍␊c␡", TerminalText.Line("a\tb\r\nc\u007f"));
        Assert.Equal(@"csi\u009B2J nel\u0085", TerminalText.Line("csi\u009b2J nel\u0085"));
        Assert.Equal(@"evil\u202Egpj.exe \u2066x\u2069 a\u2028b", TerminalText.Line("evil\u202egpj.exe \u2066x\u2069 a\u2028b"));
    }

    [Fact]
    public void A_body_text_keeps_tab_lf_and_crlf_and_bidi_marks_but_shows_a_lone_cr_and_every_other_control()
    {
        Assert.Equal("{\r\n\t\"a\": 1\n}", TerminalText.Lines("{\r\n\t\"a\": 1\n}"));
        Assert.Equal("שלום\u200f abc", TerminalText.Lines("שלום\u200f abc"));
        Assert.Equal("paid␍FAILED\r\n␛[2J\\u009B\n␍", TerminalText.Lines("paid\rFAILED\r\n\u001b[2J\u009b\n\r"));
    }

    [Fact]
    public void Text_without_anything_to_show_is_returned_as_it_is()
    {
        const string plain = "https://app.localhost:8443/a?b=c — ünïcödé";
        Assert.Same(plain, TerminalText.Line(plain));
        Assert.Same(plain, TerminalText.Lines(plain));
        Assert.Null(TerminalText.Line(null));
        Assert.Null(TerminalText.Lines(null));
    }

    [Fact]
    public void No_character_of_any_value_survives_as_a_control_anywhere_in_a_string()
    {
        // Every UTF-16 code unit, alone and between text, at the start, in the middle and at the end.
        for (int value = 0; value <= char.MaxValue; value++)
        {
            char c = (char)value;
            foreach (string text in new[] { c.ToString(), "a" + c + "b", "x\r" + c, c + "\r\n" })
            {
                string line = TerminalText.Line(text);
                Assert.DoesNotContain(line, ch => char.IsControl(ch) || IsFormatting(ch));

                string lines = TerminalText.Lines(text);
                for (int i = 0; i < lines.Length; i++)
                {
                    bool allowed = lines[i] is '\t' or '\n' || (lines[i] == '\r' && i + 1 < lines.Length && lines[i + 1] == '\n');
                    Assert.True(allowed || !char.IsControl(lines[i]), $"U+{value:X4} left U+{(int)lines[i]:X4} at {i} of the body text");
                }
            }
        }
    }

    private static bool IsFormatting(char c) =>
        c is '\u061c' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069') or '\u2028' or '\u2029';
}
