namespace TunnelPS.Engine.Inspection;

/// <summary>Options for <see cref="HarWriter"/>.</summary>
public sealed class HarWriterOptions
{
    /// <summary>Headers redacted besides the credential headers <see cref="Redact"/> always hides (none by default).</summary>
    public static readonly IReadOnlyList<string> DefaultRedactedHeaders = [];

    /// <summary>
    /// Replace secrets by "REDACTED": the values of credential headers (Authorization, Proxy-Authorization, Cookie,
    /// Set-Cookie, X-Api-Key, Api-Key, X-Auth-Token, X-Access-Token, X-Csrf-Token, X-XSRF-Token, names ending in
    /// -Token, -Key, -Secret, -Signature or -Password) and of every cookie, and the values of secret-looking names
    /// (token, access_token, api_key, password, code, session, …; see <see cref="HarRedactor.IsSecretName"/>) in the
    /// URL and queryString, in Location, Content-Location and Referer URLs, in form bodies (text and params) and
    /// in JSON bodies at any depth, request and response alike.
    /// </summary>
    public bool Redact { get; init; }

    /// <summary>More header names whose values <see cref="Redact"/> replaces whole (matched case-insensitively).</summary>
    public IReadOnlyList<string> RedactedHeaders { get; init; } = DefaultRedactedHeaders;

    /// <summary>The creator version written to log.creator.version.</summary>
    public string CreatorVersion { get; init; } = typeof(HarWriter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Indent the JSON.</summary>
    public bool Indented { get; init; } = true;
}
