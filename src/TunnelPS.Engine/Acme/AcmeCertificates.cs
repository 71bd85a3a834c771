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
internal sealed partial class AcmeCertificates : IDisposable
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
            ForgetUnheld(name, entry);
            return;
        }
        var started = _time.GetTimestamp();
        MarkStarted(name, entry);
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
            RecordFailure(name, entry, ex);
        }
    }

    /// <summary>Never ordered (nor renewed) for a name no tunnel holds; a tunnel that registers it again asks again.</summary>
    private void ForgetUnheld(string name, Entry entry)
    {
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
    }

    /// <summary>An order begins: Renewing for a name with a certificate, Pending for a first one.</summary>
    private void MarkStarted(string name, Entry entry)
    {
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
    }

    /// <summary>A failed order: Failed with the CA's detail, retried after a delay doubling up to the maximum; the certificate served before stays.</summary>
    private void RecordFailure(string name, Entry entry, Exception ex)
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
