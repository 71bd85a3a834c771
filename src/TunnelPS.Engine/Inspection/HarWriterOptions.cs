namespace TunnelPS.Engine.Inspection;

/// <summary>Options for <see cref="HarWriter"/>.</summary>
public sealed class HarWriterOptions
{
    /// <summary>The headers whose values <see cref="Redact"/> replaces by "REDACTED".</summary>
    public static readonly IReadOnlyList<string> DefaultRedactedHeaders = ["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"];

    /// <summary>Replace the values of credentials headers (and cookies) by "REDACTED".</summary>
    public bool Redact { get; init; }

    /// <summary>The headers redacted when <see cref="Redact"/> is set.</summary>
    public IReadOnlyList<string> RedactedHeaders { get; init; } = DefaultRedactedHeaders;

    /// <summary>The creator version written to log.creator.version.</summary>
    public string CreatorVersion { get; init; } = typeof(HarWriter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Indent the JSON.</summary>
    public bool Indented { get; init; } = true;
}
