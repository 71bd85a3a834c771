using System.Text.Json;

namespace TunnelPS.Engine.Acme;

/// <summary>An ACME order object (RFC 8555 7.1.3) as far as the client uses it.</summary>
internal sealed record AcmeOrder(Uri Url, string Status, IReadOnlyList<Uri> Authorizations, Uri Finalize, Uri? Certificate, string? ProblemType, string? ProblemDetail)
{
    /// <summary>The most authorizations an order may list (one per name; orders here name one or two).</summary>
    public const int MaxAuthorizations = 100;

    public TimeSpan? RetryAfter { get; init; }

    public static AcmeOrder Parse(JsonElement json, Uri url)
    {
        var status = json.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
        var authorizations = new List<Uri>();
        if (json.TryGetProperty("authorizations", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                if (authorizations.Count == MaxAuthorizations)
                {
                    throw new AcmeException($"The order {url} lists more than {MaxAuthorizations} authorizations.");
                }
                if (item.ValueKind == JsonValueKind.String && Uri.TryCreate(item.GetString(), UriKind.Absolute, out var a))
                {
                    authorizations.Add(a);
                }
            }
        }
        var (type, detail) = AcmeAuthorization.ReadProblem(json);
        return new AcmeOrder(url, status, authorizations, AcmeClient.RequiredUrl(json, "finalize", url), AcmeClient.OptionalUrl(json, "certificate"), type, detail);
    }
}

/// <summary>One challenge of an authorization.</summary>
internal sealed record AcmeChallenge(string Type, Uri Url, string Token, string Status, string? ProblemType, string? ProblemDetail);

/// <summary>An ACME authorization object (RFC 8555 7.1.4).</summary>
internal sealed record AcmeAuthorization(Uri Url, string Identifier, string Status, bool Wildcard, IReadOnlyList<AcmeChallenge> Challenges)
{
    public TimeSpan? RetryAfter { get; init; }

    public static AcmeAuthorization Parse(JsonElement json, Uri url)
    {
        var status = json.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
        var identifier = json.TryGetProperty("identifier", out var id) && id.ValueKind == JsonValueKind.Object &&
            id.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        var wildcard = json.TryGetProperty("wildcard", out var w) && w.ValueKind == JsonValueKind.True;
        var challenges = new List<AcmeChallenge>();
        if (json.TryGetProperty("challenges", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in list.EnumerateArray().Take(16))
            {
                if (c.ValueKind != JsonValueKind.Object || AcmeClient.OptionalUrl(c, "url") is not { } challengeUrl)
                {
                    continue;
                }
                var type = c.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                var token = c.TryGetProperty("token", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
                var state = c.TryGetProperty("status", out var cs) && cs.ValueKind == JsonValueKind.String ? cs.GetString()! : "";
                var (problemType, problemDetail) = ReadProblem(c);
                challenges.Add(new AcmeChallenge(type, challengeUrl, token, state, problemType, problemDetail));
            }
        }
        return new AcmeAuthorization(url, identifier, status, wildcard, challenges);
    }

    /// <summary>The "error" member of an object (a problem document), when it has one.</summary>
    internal static (string? Type, string? Detail) ReadProblem(JsonElement json)
    {
        if (!json.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
        {
            return (null, null);
        }
        var type = error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var detail = error.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        return (type, detail);
    }
}
