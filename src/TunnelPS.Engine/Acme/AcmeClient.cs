using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// An ACME client written against RFC 8555 (no ACME library is available to the project): the directory, nonces
/// (with badNonce retries), the account (with external account binding), orders, authorizations, challenges, polling
/// with Retry-After, finalization and the certificate chain with its alternates. Every answer of the directory is
/// bounded: its size (<see cref="MaxResponseBytes"/>), how often an object is polled (<see cref="MaxPolls"/>), how
/// long a Retry-After may make it wait (<see cref="MaxRetryAfter"/>), and how many badNonce retries a request gets.
/// </summary>
internal sealed partial class AcmeClient : IDisposable
{
    /// <summary>The largest answer read from the directory (a JSON object or a PEM chain): 1 MiB.</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    /// <summary>The most times one authorization or order is polled before the client gives up on it.</summary>
    public const int MaxPolls = 60;

    /// <summary>The most badNonce answers one request is retried after.</summary>
    public const int MaxBadNonceRetries = 5;

    /// <summary>The most alternate chains (Link rel="alternate") followed for one certificate.</summary>
    public const int MaxAlternates = 4;

    /// <summary>The longest wait a Retry-After header may ask for between polls; a longer one is cut to this.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>The wait between polls when the directory sends no Retry-After.</summary>
    public static readonly TimeSpan DefaultPollDelay = TimeSpan.FromSeconds(1);

    private const string ProblemPrefix = "urn:ietf:params:acme:error:";
    private readonly HttpClient _http;
    private readonly Uri _directoryUrl;
    private readonly AcmeAccountKey _key;
    private readonly TimeProvider _time;
    private Uri? _newNonce;
    private Uri? _newAccount;
    private Uri? _newOrder;
    private string? _nonce;

    public AcmeClient(Uri directory, AcmeAccountKey key, X509Certificate2? extraRoot, TimeProvider time)
    {
        _directoryUrl = directory;
        _key = key;
        _time = time;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        if (extraRoot is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedWith(extraRoot, certificate, errors);
        }
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxResponseBytes };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("TunnelPS", typeof(AcmeClient).Assembly.GetName().Version?.ToString(3) ?? "1"));
    }

    /// <summary>The account URL (the JWS "kid"), once the account is known.</summary>
    public string? AccountUrl { get; private set; }

    /// <summary>The directory's terms of service, when it names them.</summary>
    public Uri? TermsOfService { get; private set; }

    /// <summary>True when the directory demands an external account binding.</summary>
    public bool ExternalAccountRequired { get; private set; }

    /// <summary>The ACME Renewal Information endpoint (RFC 9773), when the directory has one.</summary>
    public Uri? RenewalInfo { get; private set; }

    /// <summary>badNonce answers retried so far (for tests and metrics).</summary>
    public int BadNonceRetries { get; private set; }

    /// <summary>The directory's certificate is checked against the system's roots and, failing that, against <paramref name="root"/> alone.</summary>
    private static bool TrustedWith(X509Certificate2 root, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0 || certificate is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    /// <summary>Reads the directory object (RFC 8555 7.1.1).</summary>
    public async Task LoadDirectoryAsync(CancellationToken token)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, _directoryUrl), token).ConfigureAwait(false);
        var body = await ReadBodyAsync(response, token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw Problem(response, body, $"The ACME directory {_directoryUrl} answered {(int)response.StatusCode}");
        }
        using var json = Parse(body, _directoryUrl);
        var root = json.RootElement;
        _newNonce = RequiredUrl(root, "newNonce", _directoryUrl);
        _newAccount = RequiredUrl(root, "newAccount", _directoryUrl);
        _newOrder = RequiredUrl(root, "newOrder", _directoryUrl);
        RenewalInfo = OptionalUrl(root, "renewalInfo");
        if (root.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            TermsOfService = OptionalUrl(meta, "termsOfService");
            ExternalAccountRequired = meta.TryGetProperty("externalAccountRequired", out var eab) && eab.ValueKind == JsonValueKind.True;
        }
    }

    /// <summary>
    /// Finds or creates the account of this key (RFC 8555 7.3): agrees to the terms of service, gives the contact
    /// address, and binds an external account when a key id is given.
    /// </summary>
    public async Task<string> AccountAsync(string? email, string? eabKeyId, string? eabHmacKey, CancellationToken token)
    {
        var payload = new StringBuilder("{\"termsOfServiceAgreed\":true");
        if (!string.IsNullOrWhiteSpace(email))
        {
            payload.Append(",\"contact\":[").Append(AcmeBase64Url.Json("mailto:" + email.Trim())).Append(']');
        }
        payload.Append('}');
        string? binding = null;
        if (eabKeyId is not null)
        {
            binding = _key.ExternalAccountBinding(_newAccount!.AbsoluteUri, eabKeyId, eabHmacKey ?? "");
        }
        else if (ExternalAccountRequired)
        {
            throw new AcmeException($"The ACME directory {_directoryUrl} requires an external account binding. Give -AcmeExternalAccountBinding with the key id and HMAC key from the CA.");
        }
        using var response = await PostAsync(_newAccount!, payload.ToString(), token, useJwk: true, binding).ConfigureAwait(false);
        AccountUrl = response.Location?.AbsoluteUri ?? throw new AcmeException($"The ACME directory's newAccount answer has no Location header, so the account is unknown ({_newAccount}).");
        return AccountUrl;
    }

    /// <summary>Uses a known account URL (kept from an earlier run).</summary>
    public void UseAccount(string accountUrl) => AccountUrl = accountUrl;

    /// <summary>Places an order for <paramref name="names"/> (RFC 8555 7.4); <paramref name="replaces"/> is the ARI id of the certificate it renews.</summary>
    public async Task<AcmeOrder> NewOrderAsync(IReadOnlyList<string> names, string? replaces, CancellationToken token)
    {
        var payload = new StringBuilder("{\"identifiers\":[");
        for (var i = 0; i < names.Count; i++)
        {
            payload.Append(i == 0 ? "" : ",").Append("{\"type\":\"dns\",\"value\":").Append(AcmeBase64Url.Json(names[i])).Append('}');
        }
        payload.Append(']');
        if (replaces is not null)
        {
            payload.Append(",\"replaces\":").Append(AcmeBase64Url.Json(replaces));
        }
        payload.Append('}');
        using var response = await PostAsync(_newOrder!, payload.ToString(), token).ConfigureAwait(false);
        var url = response.Location ?? throw new AcmeException("The ACME directory's newOrder answer has no Location header.");
        return AcmeOrder.Parse(response.Json.RootElement, url);
    }

    public async Task<AcmeOrder> GetOrderAsync(Uri url, CancellationToken token)
    {
        using var response = await PostAsync(url, null, token).ConfigureAwait(false);
        return AcmeOrder.Parse(response.Json.RootElement, url) with { RetryAfter = response.RetryAfter };
    }

    public async Task<AcmeAuthorization> GetAuthorizationAsync(Uri url, CancellationToken token)
    {
        using var response = await PostAsync(url, null, token).ConfigureAwait(false);
        return AcmeAuthorization.Parse(response.Json.RootElement, url) with { RetryAfter = response.RetryAfter };
    }

    /// <summary>Tells the directory the challenge is ready to be validated (RFC 8555 7.5.1: an empty object).</summary>
    public async Task RespondAsync(Uri challenge, CancellationToken token)
    {
        using var _ = await PostAsync(challenge, "{}", token).ConfigureAwait(false);
    }

    /// <summary>Polls an authorization until it leaves "pending" (at most <see cref="MaxPolls"/> times).</summary>
    public async Task<AcmeAuthorization> PollAuthorizationAsync(Uri url, CancellationToken token)
    {
        for (var poll = 0; poll < MaxPolls; poll++)
        {
            var authorization = await GetAuthorizationAsync(url, token).ConfigureAwait(false);
            if (authorization.Status != "pending")
            {
                return authorization;
            }
            await Task.Delay(PollDelay(authorization.RetryAfter), _time, token).ConfigureAwait(false);
        }
        throw new AcmeException(string.Create(CultureInfo.InvariantCulture, $"The authorization {url} was still pending after {MaxPolls} polls."));
    }

    /// <summary>Polls an order until it leaves "pending"/"processing" (at most <see cref="MaxPolls"/> times).</summary>
    public async Task<AcmeOrder> PollOrderAsync(AcmeOrder order, CancellationToken token)
    {
        for (var poll = 0; poll < MaxPolls; poll++)
        {
            if (order.Status is not ("pending" or "processing"))
            {
                return order;
            }
            await Task.Delay(PollDelay(order.RetryAfter), _time, token).ConfigureAwait(false);
            order = await GetOrderAsync(order.Url, token).ConfigureAwait(false);
        }
        throw new AcmeException(string.Create(CultureInfo.InvariantCulture, $"The order {order.Url} was still {order.Status} after {MaxPolls} polls."));
    }

    /// <summary>Sends the CSR (RFC 8555 7.4) and returns the order as the directory then describes it.</summary>
    public async Task<AcmeOrder> FinalizeAsync(AcmeOrder order, byte[] csrDer, CancellationToken token)
    {
        using var response = await PostAsync(order.Finalize, "{\"csr\":\"" + AcmeBase64Url.Encode(csrDer) + "\"}", token).ConfigureAwait(false);
        return AcmeOrder.Parse(response.Json.RootElement, order.Url) with { RetryAfter = response.RetryAfter };
    }

    /// <summary>Downloads the PEM chain at <paramref name="url"/> and every alternate chain the directory links (at most <see cref="MaxAlternates"/>).</summary>
    public async Task<IReadOnlyList<string>> DownloadChainsAsync(Uri url, CancellationToken token)
    {
        var chains = new List<string>();
        using (var response = await PostAsync(url, null, token, accept: "application/pem-certificate-chain").ConfigureAwait(false))
        {
            chains.Add(response.Text);
            foreach (var alternate in response.Alternates.Take(MaxAlternates))
            {
                using var other = await PostAsync(alternate, null, token, accept: "application/pem-certificate-chain").ConfigureAwait(false);
                chains.Add(other.Text);
            }
        }
        return chains;
    }

    /// <summary>
    /// The ARI window of a certificate (RFC 9773 4.2): when the CA suggests renewing it; null when the directory has
    /// no renewalInfo or does not answer usefully (renewal then falls back to the lifetime rule).
    /// </summary>
    public async Task<(DateTimeOffset Start, DateTimeOffset End)?> GetRenewalWindowAsync(string certificateId, CancellationToken token)
    {
        if (RenewalInfo is null)
        {
            return null;
        }
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(RenewalInfo.AbsoluteUri.TrimEnd('/') + "/" + certificateId)), token).ConfigureAwait(false);
        var body = await ReadBodyAsync(response, token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }
        using var json = Parse(body, RenewalInfo);
        if (json.RootElement.TryGetProperty("suggestedWindow", out var window) && window.ValueKind == JsonValueKind.Object &&
            window.TryGetProperty("start", out var start) && start.TryGetDateTimeOffset(out var from) &&
            window.TryGetProperty("end", out var end) && end.TryGetDateTimeOffset(out var to) && to > from)
        {
            return (from, to);
        }
        return null;
    }

    internal static TimeSpan PollDelay(TimeSpan? retryAfter) =>
        retryAfter is { } wait ? (wait > MaxRetryAfter ? MaxRetryAfter : wait < TimeSpan.Zero ? TimeSpan.Zero : wait) : DefaultPollDelay;

    private async Task<string> NonceAsync(CancellationToken token)
    {
        if (Interlocked.Exchange(ref _nonce, null) is { } nonce)
        {
            return nonce;
        }
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Head, _newNonce), token).ConfigureAwait(false);
        return Interlocked.Exchange(ref _nonce, null) ?? throw new AcmeException($"The ACME directory's newNonce ({_newNonce}) gave no Replay-Nonce header.");
    }

    /// <summary>A signed POST; a badNonce problem is retried with the fresh nonce it carries (RFC 8555 6.5).</summary>
    private async Task<AcmeResponse> PostAsync(Uri url, string? payload, CancellationToken token, bool useJwk = false, string? binding = null, string accept = "application/json")
    {
        for (var attempt = 0; ; attempt++)
        {
            var nonce = await NonceAsync(token).ConfigureAwait(false);
            var body = _key.Sign(url.AbsoluteUri, nonce, useJwk ? null : AccountUrl ?? throw new InvalidOperationException("No ACME account yet."), payload, binding);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/jose+json");
            request.Headers.Accept.ParseAdd(accept);
            using var response = await SendAsync(request, token).ConfigureAwait(false);
            var bytes = await ReadBodyAsync(response, token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var problem = Problem(response, bytes, $"The ACME directory answered {(int)response.StatusCode} to {url}");
                if (problem.ProblemType == ProblemPrefix + "badNonce" && attempt < MaxBadNonceRetries)
                {
                    BadNonceRetries++;
                    continue;
                }
                throw problem;
            }
            return new AcmeResponse(response, bytes, url);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken token)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new AcmeException($"The ACME directory at {request.RequestUri} could not be reached: {MessageText.Clause(ex.Message)}. Check the -AcmeDirectory address and this host's outbound HTTPS (and -AcmeRootCertificate for a private CA).", ex);
        }
        catch (TaskCanceledException ex) when (!token.IsCancellationRequested)
        {
            throw new AcmeException($"The ACME directory at {request.RequestUri} did not answer within {_http.Timeout.TotalSeconds:0} s.", ex);
        }
        if (response.Headers.TryGetValues("Replay-Nonce", out var nonces) && nonces.FirstOrDefault() is { Length: > 0 and <= 256 } nonce)
        {
            Volatile.Write(ref _nonce, nonce);
        }
        return response;
    }

    public void Dispose() => _http.Dispose();
}
