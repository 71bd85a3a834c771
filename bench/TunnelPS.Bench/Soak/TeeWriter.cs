using System.Text;

namespace TunnelPS.Bench.Soak;

/// <summary>Writes to the console and to the report file at once.</summary>
internal sealed class TeeWriter(TextWriter first, TextWriter second) : TextWriter
{
    private readonly object _gate = new();

    public override Encoding Encoding => first.Encoding;

    public override void Write(char value)
    {
        lock (_gate)
        {
            first.Write(value);
            second.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_gate)
        {
            first.Write(value);
            second.Write(value);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_gate)
        {
            first.WriteLine(value);
            second.WriteLine(value);
        }
    }
}
