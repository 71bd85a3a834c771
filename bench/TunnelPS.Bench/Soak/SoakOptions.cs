using System.Globalization;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// What the harness runs, from its command line: the benchmark and then the soak by default; <c>--soak-only</c> skips
/// the benchmark, <c>--no-soak</c> skips the soak, <c>--idle-only</c> runs only the idle-connection measurement,
/// <c>--quick</c> shortens both (the soak to one minute).
/// </summary>
internal sealed record SoakOptions
{
    public const string Usage =
        "Options: --quick, --soak-only, --no-soak, --idle-only, --soak-minutes <minutes>, --idle-connections <N>, " +
        "--max-connections-per-ip <N>, --no-idle-https";

    public bool Quick { get; init; }

    /// <summary>Skip the benchmark; run the idle-connection measurement and the soak.</summary>
    public bool SoakOnly { get; init; }

    /// <summary>Run the soak at all (false with --no-soak).</summary>
    public bool Soak { get; init; } = true;

    /// <summary>Run only the idle-connection measurement (no benchmark, no soak).</summary>
    public bool IdleOnly { get; init; }

    /// <summary>How long traffic, churn and attacks run: 10 minutes, or 1 with --quick.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long the full mix runs before anything is measured (JIT, pools, capture rings filled).</summary>
    public TimeSpan WarmUp => Quick ? TimeSpan.FromSeconds(15) : TimeSpan.FromSeconds(30);

    /// <summary>How often both children are sampled during the soak.</summary>
    public TimeSpan SampleInterval => Quick ? TimeSpan.FromSeconds(15) : TimeSpan.FromSeconds(30);

    /// <summary>Idle keep-alive visitor connections opened for the per-connection memory figures.</summary>
    public int IdleConnections { get; init; } = 2000;

    /// <summary>Measure HTTPS idle visitors too (on by default).</summary>
    public bool IdleHttps { get; init; } = true;

    /// <summary>
    /// The server's -MaxConnectionsPerIP. All load comes from 127/8, spread over many source addresses, and no legitimate
    /// source holds more than a few hundred connections; the idle flood fills one attacker address up to this limit.
    /// </summary>
    public int MaxConnectionsPerIP { get; init; } = 512;

    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions();
        var minutesGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    options = options with { Quick = true };
                    break;
                case "--soak-only":
                    options = options with { SoakOnly = true };
                    break;
                case "--no-soak":
                    options = options with { Soak = false };
                    break;
                case "--idle-only":
                    options = options with { IdleOnly = true, SoakOnly = true };
                    break;
                case "--no-idle-https":
                    options = options with { IdleHttps = false };
                    break;
                case "--soak-minutes":
                    options = options with { Duration = TimeSpan.FromMinutes(Number(args, ++i, 0.25, 24 * 60)) };
                    minutesGiven = true;
                    break;
                case "--idle-connections":
                    options = options with { IdleConnections = (int)Number(args, ++i, 1, 8000) };
                    break;
                case "--max-connections-per-ip":
                    options = options with { MaxConnectionsPerIP = (int)Number(args, ++i, 16, 100_000) };
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. {Usage}");
            }
        }
        if (options.Quick && !minutesGiven)
        {
            options = options with { Duration = TimeSpan.FromMinutes(1) };
        }
        return options;
    }

    private static double Number(string[] args, int index, double min, double max)
    {
        if (index >= args.Length || !double.TryParse(args[index], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"'{args[index - 1]}' needs a number from {min} to {max}. {Usage}"));
        }
        return value;
    }
}
