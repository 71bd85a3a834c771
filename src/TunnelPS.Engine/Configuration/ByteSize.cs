using System.Globalization;

namespace TunnelPS.Engine.Configuration;

/// <summary>
/// Parses sizes such as <c>1048576</c>, <c>512KiB</c>, <c>1MB</c>, <c>1.5 mb</c>, <c>2G</c>. Units are binary
/// multiples whether written KB or KiB (1 KB = 1024 bytes), as most tools' size settings read them.
/// </summary>
internal static class ByteSize
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var s = text.Trim();
        var unitStart = s.Length;
        while (unitStart > 0 && char.IsAsciiLetter(s[unitStart - 1]))
        {
            unitStart--;
        }
        var unit = s[unitStart..].ToUpperInvariant();
        var number = s[..unitStart].Trim();
        long multiplier = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1024,
            "M" or "MB" or "MIB" => 1024 * 1024,
            "G" or "GB" or "GIB" => 1024 * 1024 * 1024,
            _ => 0,
        };
        if (multiplier == 0 || number.Length == 0
            || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }
        var result = value * multiplier;
        if (result > long.MaxValue || result != decimal.Truncate(result))
        {
            return false;
        }
        bytes = (long)result;
        return true;
    }
}
