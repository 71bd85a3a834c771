using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// The server's ACME certificates: one per name a tunnel holds, ordered when a tunnel registers the name (never for a
/// name no tunnel holds: the abuse guard of on-demand issuance), served by SNI once issued, renewed at two thirds of
/// the lifetime (or in the CA's ARI window), and kept under the state folder. Orders run one at a time on one
/// background loop; a failed order keeps the certificate already served, shows the ACME problem's detail, logs a
/// warning and is retried with back-off.
/// </summary>
internal sealed class AcmeCertificates : IDisposable
{
    /// <summary>The most names with a certificate or an order a server keeps.</summary>
    public const int MaxNames = 10_000;

    /// <summary>How often the CA's renewal information (ARI) of a certificate is read again.</summary>
    public static readonly TimeSpan RenewalInfoInterval = TimeSpan.FromHours(6);

    private readonly AcmeOptions _options;
    private readonly AcmeStateFolder _folder;
    private readonly Func<string, bool> _isHeld;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private AcmeClient? _client;
    private AcmeAccountKey? _accountKey;
    private long _orders;

    /// <param name="isHeld">Whether a tunnel holds the name now (only such names are ordered or renewed).</param>
    /// <param name="domain">The server's domain: with a DNS provider, *.domain is ordered at start.</param>
    public AcmeCertificates(AcmeOptions options, string folder, string domain, Func<string, bool> isHeld, ILogger logger, TimeProvider time)
    {
        _wildcard = options.DnsProvider is null ? null : "*." + domain;
        _options = options;
        _folder = new AcmeStateFolder(folder);
        _isHeld = isHeld;
        _logger = logger;
        _time = time;
        foreach (var (name, certificate, chain, _) in _folder.LoadAll((file, reason) => AcmeLog.StoredFileSkipped(logger, file, reason)))
        {
            var entry = new Entry([name]);
            Install(entry, certificate, chain);
            _entries[name] = entry;
        }
        if (_wildcard is not null && !_entries.ContainsKey(_wildcard))
        {
            _entries[_wildcard] = new Entry([_wildcard]) { Detail = "ordered by DNS-01; names are served with the local CA's certificate until issued" };
        }
    }

    private readonly string? _wildcard;

    /// <summary>True when the wildcard certificate (ordered or issued) covers <paramref name="name"/>: one label under the domain.</summary>
    private bool CoveredByWildcard(string name)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return _wildcard is not null && dot > 0 && name.AsSpan(dot).SequenceEqual(_wildcard.AsSpan(1));
    }

    /// <summary>Answers the ACME server's validation requests.</summary>
    public AcmeChallengeResponder Responder { get; } = new();

    /// <summary>Where the account key and the certificates are kept.</summary>
    public string Folder => _folder.Path;

    /// <summary>Orders placed so far.</summary>
    public long OrdersPlaced => Interlocked.Read(ref _orders);

    /// <summary>badNonce answers retried by the client so far.</summary>
    public int BadNonceRetries => _client?.BadNonceRetries ?? 0;

    /// <summary>
    /// A tunnel now holds <paramref name="name"/>: order its certificate unless one is issued or on its way. Cheap and
    /// never blocking: the order runs on the background loop.
    /// </summary>
    public void Request(string name)
    {
        name = name.TrimEnd('.').ToLowerInvariant();
        lock (_gate)
        {
            if (_entries.ContainsKey(name) || CoveredByWildcard(name))
            {
                // Issued, on its way, or failed and waiting for its retry (back-off applies however often it registers).
                return;
            }
            if (_entries.Count >= MaxNames)
            {
                AcmeLog.TooManyNames(_logger, _entries.Count, MaxNames, name);
                return;
            }
            _entries[name] = new Entry([name]) { Detail = "ordered; served with the local CA's certificate until issued" };
        }
        _wake.Writer.TryWrite(true);
    }

    /// <summary>The TLS options of an issued certificate for <paramref name="serverName"/> (exact, or a wildcard one level up), or null.</summary>
    public SslServerAuthenticationOptions? OptionsFor(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName))
        {
            return null;
        }
        var name = serverName.TrimEnd('.').ToLowerInvariant();
        lock (_gate)
        {
            if (_entries.TryGetValue(name, out var entry) && entry.Options is { } options)
            {
                return options;
            }
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && _entries.TryGetValue("*" + name[dot..], out var wildcard) ? wildcard.Options : null;
        }
    }

    /// <summary>Every certificate and order, for Get-TunnelServer and the status screen.</summary>
    public IReadOnlyList<AcmeCertificateInfo> Snapshot()
    {
        lock (_gate)
        {
            return _entries.Values
                .Select(e => new AcmeCertificateInfo(e.Names, e.Certificate?.Issuer, e.Certificate is { } c ? new DateTimeOffset(c.NotAfter.ToUniversalTime()) : null,
                    e.Status, e.Detail, e.Certificate is null ? null : e.RenewAt, e.Status == AcmeCertificateStatus.Failed ? e.NextAttempt : null))
                .OrderBy(i => i.Names[0], StringComparer.Ordinal)
                .ToList();
        }
    }

    /// <summary>The background loop: orders what is due, one at a time, until <paramref name="token"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            foreach (var name in Due())
            {
                await ProcessAsync(name, token).ConfigureAwait(false);
            }
            using var timer = new CancellationTokenSource(_options.ScanInterval, _time);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(token, timer.Token);
            try
            {
                await _wake.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                // The scan interval passed: look for renewals and retries that have come due.
            }
        }
    }

    /// <summary>Test hook: wakes the loop (as a new name or a passing minute does).</summary>
    internal void Wake() => _wake.Writer.TryWrite(true);

    private List<string> Due()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            return _entries
                .Where(e => e.Value.NextAttempt <= now && (e.Value.Certificate is null || e.Value.RenewAt <= now))
                .Select(e => e.Key)
                .ToList();
        }
    }

    private async Task ProcessAsync(string name, CancellationToken token)
    {
        Entry entry;
        lock (_gate)
        {
            entry = _entries[name];
        }
        if (name != _wildcard && !_isHeld(name))
        {
            // Never ordered (nor renewed) for a name no tunnel holds; a tunnel that registers it again asks again.
            AcmeLog.NotHeld(_logger, name);
            lock (_gate)
            {
                if (entry.Certificate is null)
                {
                    _entries.Remove(name);
                }
                else
                {
                    entry.NextAttempt = _time.GetUtcNow() + _options.ScanInterval;
                }
            }
            return;
        }
        var started = _time.GetTimestamp();
        lock (_gate)
        {
            if (entry.Certificate is { } current)
            {
                entry.Status = AcmeCertificateStatus.Renewing;
                entry.Detail = null;
                AcmeLog.Renewing(_logger, name, current.NotAfter.ToUniversalTime());
            }
            else
            {
                entry.Status = AcmeCertificateStatus.Pending;
                AcmeLog.Ordering(_logger, name, _options.Directory.AbsoluteUri);
            }
        }
        using var timeout = new CancellationTokenSource(_options.OrderTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, timeout.Token);
        try
        {
            var (certificate, chain) = await OrderAsync(entry.Names, entry.AriId, linked.Token).ConfigureAwait(false);
            lock (_gate)
            {
                Install(entry, certificate, chain);
                entry.Failures = 0;
            }
            await RefineWithRenewalInfoAsync(entry, linked.Token).ConfigureAwait(false);
            AcmeLog.Issued(_logger, name, certificate.Issuer, certificate.NotAfter.ToUniversalTime(), entry.RenewAt, _time.GetElapsedTime(started).TotalSeconds);
        }
        #pragma warning disable CA1031 // Whatever fails one order (the directory, the disk, a malformed answer) is shown on the name and retried; it never ends the loop or the server.
        catch (Exception ex) when (!token.IsCancellationRequested)
#pragma warning restore CA1031
        {
            var reason = ex is OperationCanceledException
                ? string.Create(CultureInfo.InvariantCulture, $"the order took longer than {_options.OrderTimeout.TotalSeconds:0} s")
                : ex is AcmeException { ProblemDetail: { } detail } acme && !ex.Message.Contains(detail, StringComparison.Ordinal) ? acme.Message + " " + detail : ex.Message;
            DateTimeOffset retryAt;
            bool kept;
            lock (_gate)
            {
                entry.Failures++;
                var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks * (1L << Math.Min(entry.Failures - 1, 20))));
                retryAt = _time.GetUtcNow() + delay;
                entry.NextAttempt = retryAt;
                entry.Status = AcmeCertificateStatus.Failed;
                entry.Detail = reason;
                kept = entry.Certificate is not null;
            }
            AcmeLog.OrderFailed(_logger, name, MessageText.Clause(reason), kept ? "The certificate issued before is still served" : "The name is served with the local CA's certificate", retryAt);
        }
    }

    /// <summary>One order from newOrder to the downloaded chain.</summary>
    private async Task<(X509Certificate2 Certificate, X509Certificate2Collection Chain)> OrderAsync(IReadOnlyList<string> names, string? replaces, CancellationToken token)
    {
        var client = await ClientAsync(token).ConfigureAwait(false);
        Interlocked.Increment(ref _orders);
        AcmeOrder order;
        try
        {
            order = await client.NewOrderAsync(names, client.RenewalInfo is null ? null : replaces, token).ConfigureAwait(false);
        }
        catch (AcmeException ex) when (replaces is not null && ex.ProblemType is not null && ex.ProblemType.EndsWith(":alreadyReplaced", StringComparison.Ordinal))
        {
            order = await client.NewOrderAsync(names, null, token).ConfigureAwait(false);
        }
        foreach (var url in order.Authorizations)
        {
            await AuthorizeAsync(client, url, token).ConfigureAwait(false);
        }
        order = await client.PollOrderAsync(await client.GetOrderAsync(order.Url, token).ConfigureAwait(false), token).ConfigureAwait(false);
        if (order.Status != "ready")
        {
            throw new AcmeException($"The order for {string.Join(", ", names)} is {order.Status}, not ready for its CSR{ProblemText(order.ProblemDetail)}", order.ProblemType, order.ProblemDetail);
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + names[0], key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }
        request.CertificateExtensions.Add(san.Build());
        order = await client.FinalizeAsync(order, request.CreateSigningRequest(), token).ConfigureAwait(false);
        order = await client.PollOrderAsync(order, token).ConfigureAwait(false);
        if (order.Status != "valid" || order.Certificate is null)
        {
            throw new AcmeException($"The order for {string.Join(", ", names)} ended {order.Status} after its CSR{ProblemText(order.ProblemDetail)}", order.ProblemType, order.ProblemDetail);
        }
        var chains = await client.DownloadChainsAsync(order.Certificate, token).ConfigureAwait(false);
        var pem = PickChain(chains, _options.PreferredChain);
        var (certificate, chain) = AcmeStateFolder.Build(pem, key.ExportPkcs8PrivateKeyPem());
        _folder.Save(names[0], pem, key);
        return (certificate, chain);
    }

    /// <summary>The chain whose topmost issuer names <paramref name="preferred"/> (as certbot's --preferred-chain), else the default one.</summary>
    internal static string PickChain(IReadOnlyList<string> chains, string? preferred)
    {
        if (preferred is not null)
        {
            foreach (var pem in chains)
            {
                var all = new X509Certificate2Collection();
                all.ImportFromPem(pem);
                if (all.Count > 0 && all[^1].Issuer.Contains(preferred, StringComparison.OrdinalIgnoreCase))
                {
                    return pem;
                }
            }
        }
        return chains[0];
    }

    private async Task AuthorizeAsync(AcmeClient client, Uri url, CancellationToken token)
    {
        var authorization = await client.GetAuthorizationAsync(url, token).ConfigureAwait(false);
        if (authorization.Status == "valid")
        {
            return;
        }
        if (authorization.Status != "pending")
        {
            throw new AcmeException($"The authorization of {authorization.Identifier} is {authorization.Status}.");
        }
        var name = authorization.Identifier;
        var keyAuthorization = "";
        AcmeChallenge? chosen = null;
        AcmeChallengeType chosenType = default;
        foreach (var type in authorization.Wildcard ? [] : _options.Challenges)
        {
            var wire = type == AcmeChallengeType.TlsAlpn01 ? "tls-alpn-01" : "http-01";
            chosen = authorization.Challenges.FirstOrDefault(c => c.Type == wire && c.Token.Length is > 0 and <= 256);
            if (chosen is not null)
            {
                chosenType = type;
                break;
            }
        }
        if (chosen is null && _options.DnsProvider is { } dns && authorization.Challenges.FirstOrDefault(c => c.Type == "dns-01" && c.Token.Length is > 0 and <= 256) is { } dnsChallenge)
        {
            await AuthorizeByDnsAsync(client, dns, url, name, dnsChallenge, token).ConfigureAwait(false);
            return;
        }
        if (chosen is null)
        {
            throw new AcmeException($"The ACME directory offers no challenge this server can answer for {name} (offered: {string.Join(", ", authorization.Challenges.Select(c => c.Type))}; answered: tls-alpn-01, http-01).");
        }
        keyAuthorization = _accountKey!.KeyAuthorization(chosen.Token);
        if (chosenType == AcmeChallengeType.TlsAlpn01)
        {
            Responder.AddTlsAlpn(name, keyAuthorization);
        }
        else
        {
            Responder.AddHttp(chosen.Token, keyAuthorization);
        }
        try
        {
            await client.RespondAsync(chosen.Url, token).ConfigureAwait(false);
            authorization = await client.PollAuthorizationAsync(url, token).ConfigureAwait(false);
        }
        finally
        {
            if (chosenType == AcmeChallengeType.TlsAlpn01)
            {
                Responder.RemoveTlsAlpn(name);
            }
            else
            {
                Responder.RemoveHttp(chosen.Token);
            }
        }
        if (authorization.Status != "valid")
        {
            var failed = authorization.Challenges.FirstOrDefault(c => c.ProblemDetail is not null);
            throw new AcmeException($"The {chosen.Type} challenge for {name} failed ({authorization.Status}){ProblemText(failed?.ProblemDetail)}", failed?.ProblemType, failed?.ProblemDetail);
        }
        AcmeLog.ChallengeAnswered(_logger, chosen.Type, name);
    }

    /// <summary>DNS-01 (RFC 8555 8.4): the TXT record _acme-challenge.&lt;name&gt; holds base64url(SHA-256(key authorization)).</summary>
    private async Task AuthorizeByDnsAsync(AcmeClient client, IAcmeDnsProvider dns, Uri url, string name, AcmeChallenge challenge, CancellationToken token)
    {
        var record = "_acme-challenge." + name;
        var value = AcmeBase64Url.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(_accountKey!.KeyAuthorization(challenge.Token))));
        await dns.AddAsync(record, value, token).ConfigureAwait(false);
        AcmeAuthorization authorization;
        try
        {
            await client.RespondAsync(challenge.Url, token).ConfigureAwait(false);
            authorization = await client.PollAuthorizationAsync(url, token).ConfigureAwait(false);
        }
        finally
        {
            try
            {
                // The record goes whatever happened; a removal that fails is logged, not a reason to fail the order.
                using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30), _time);
                await dns.RemoveAsync(record, value, cleanup.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A DNS script or server that fails the removal must not hide the order's own outcome.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                AcmeLog.DnsRemoveFailed(_logger, record, ex.Message);
            }
        }
        if (authorization.Status != "valid")
        {
            var failed = authorization.Challenges.FirstOrDefault(c => c.ProblemDetail is not null);
            throw new AcmeException($"The dns-01 challenge for {name} failed ({authorization.Status}){ProblemText(failed?.ProblemDetail)}", failed?.ProblemType, failed?.ProblemDetail);
        }
        AcmeLog.ChallengeAnswered(_logger, "dns-01", name);
    }

    private static string ProblemText(string? detail) => detail is null ? "." : ": " + MessageText.Clause(detail) + ".";

    /// <summary>The client, its directory read and its account found or created (newAccount with this key is idempotent).</summary>
    private async Task<AcmeClient> ClientAsync(CancellationToken token)
    {
        if (_client is { AccountUrl: not null } ready)
        {
            return ready;
        }
        _accountKey ??= _folder.LoadOrCreateAccountKey();
        _client ??= new AcmeClient(_options.Directory, _accountKey, _options.DirectoryRoot, _time);
        await _client.LoadDirectoryAsync(token).ConfigureAwait(false);
        await _client.AccountAsync(_options.Email, _options.EabKeyId, _options.EabHmacKey, token).ConfigureAwait(false);
        return _client;
    }

    /// <summary>
    /// Moves the renewal time into the CA's suggested window (RFC 9773) when the directory has renewalInfo: a random
    /// moment in the window, or now when the window has begun. Without ARI the two-thirds rule stands.
    /// </summary>
    private async Task RefineWithRenewalInfoAsync(Entry entry, CancellationToken token)
    {
        if (_client?.RenewalInfo is null || entry.AriId is null)
        {
            return;
        }
        try
        {
            if (await _client.GetRenewalWindowAsync(entry.AriId, token).ConfigureAwait(false) is { } window)
            {
                var span = window.End - window.Start;
                var at = window.Start + TimeSpan.FromTicks((long)(span.Ticks * Random.Shared.NextDouble()));
                lock (_gate)
                {
                    entry.RenewAt = at;
                }
            }
        }
        catch (AcmeException ex)
        {
            AcmeLog.RenewalInfoFailed(_logger, entry.Names[0], ex.Message);
        }
    }

    /// <summary>Serves a certificate for the entry's names from now on (the caller holds the lock, or owns the entry).</summary>
    private void Install(Entry entry, X509Certificate2 certificate, X509Certificate2Collection chain)
    {
        entry.Certificate = certificate;
        entry.Options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, chain, offline: true),
            EnabledSslProtocols = TlsDefaults.Protocols,
            ClientCertificateRequired = false,
            ApplicationProtocols = TlsDefaults.HttpAlpn,
        };
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        entry.RenewAt = notBefore + (notAfter - notBefore) * _options.RenewAfterFraction;
        entry.NextAttempt = DateTimeOffset.MinValue;
        entry.Status = AcmeCertificateStatus.Valid;
        entry.Detail = null;
        entry.AriId = AriId(certificate);
    }

    /// <summary>The ARI certificate identifier (RFC 9773 4.1): base64url(authority key id) "." base64url(serial number).</summary>
    internal static string? AriId(X509Certificate2 certificate)
    {
        var aki = certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault()?.KeyIdentifier;
        if (aki is not { Length: > 0 } keyId)
        {
            return null;
        }
        return AcmeBase64Url.Encode(keyId.Span) + "." + AcmeBase64Url.Encode(Convert.FromHexString(certificate.SerialNumber));
    }

    public void Dispose()
    {
        _client?.Dispose();
        _accountKey?.Dispose();
    }

    private sealed class Entry(IReadOnlyList<string> names)
    {
        public IReadOnlyList<string> Names { get; } = names;
        public X509Certificate2? Certificate { get; set; }
        public SslServerAuthenticationOptions? Options { get; set; }
        public AcmeCertificateStatus Status { get; set; } = AcmeCertificateStatus.Pending;
        public string? Detail { get; set; }
        public DateTimeOffset RenewAt { get; set; }
        public DateTimeOffset NextAttempt { get; set; } = DateTimeOffset.MinValue;
        public int Failures { get; set; }
        public string? AriId { get; set; }
    }
}
