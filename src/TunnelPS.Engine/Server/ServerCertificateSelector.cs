using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// Chooses the certificate of each TLS handshake on the server's TLS port by the name the client asked for (SNI).
/// With a local CA, a name the server serves over https (a tunnel's host under the domain) gets a short-lived
/// certificate for exactly that name, minted on first use and cached; everything else (the domain itself, an address,
/// no SNI, a name the server does not serve) gets the default certificate, whose fingerprint is what clients pin.
/// Without a CA (a certificate given by the user) every handshake gets that certificate.
/// </summary>
/// <remarks>
/// Minting is bounded: only names that <c>serves</c> confirms are minted, so a client cannot make the server mint for
/// names of its choosing, and the cache holds at most <c>capacity</c> names (least recently used out first). Minted
/// certificates use the default certificate's key, so the public key pin (<see cref="CertificateStore.SpkiPin"/>) of
/// every certificate the server shows is the same.
/// </remarks>
internal sealed class ServerCertificateSelector
{
    /// <summary>How long a minted certificate is valid.</summary>
    public static readonly TimeSpan LeafLifetime = TimeSpan.FromDays(30);

    /// <summary>A cached certificate closer than this to its end is minted again.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(7);

    /// <summary>The most names whose certificates are kept.</summary>
    public const int DefaultCapacity = 1024;

    private readonly SslServerAuthenticationOptions _defaultOptions;
    private readonly LocalCertificateAuthority? _authority;
    private readonly ECDsa? _key;
    private readonly string _domain;
    private readonly Func<string, bool> _serves;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly object _gate = new();
    private readonly Dictionary<string, LinkedListNode<Minted>> _cache = new(StringComparer.Ordinal);
    private readonly LinkedList<Minted> _recent = new();
    private long _mintCount;

    /// <param name="defaultCertificate">The certificate for every name that gets no minted one (with its private key).</param>
    /// <param name="authority">The local CA that issued <paramref name="defaultCertificate"/>, or null for a user's certificate (no minting).</param>
    /// <param name="domain">The server's domain: only names under it are minted (the CA may vouch for nothing else).</param>
    /// <param name="serves">Whether the server serves a host name over https now.</param>
    public ServerCertificateSelector(X509Certificate2 defaultCertificate, LocalCertificateAuthority? authority, string domain, Func<string, bool> serves, TimeProvider time, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(defaultCertificate);
        ArgumentNullException.ThrowIfNull(serves);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        DefaultCertificate = defaultCertificate;
        _authority = authority;
        _domain = domain;
        _serves = serves;
        _time = time;
        _capacity = capacity;
        _defaultOptions = Options(defaultCertificate);
        if (authority is not null)
        {
            _key = defaultCertificate.GetECDsaPrivateKey()
                ?? throw new ArgumentException("Minting certificates needs the default certificate's ECDSA private key.", nameof(defaultCertificate));
        }
    }

    /// <summary>The certificate of every handshake that gets no minted one; clients pin its fingerprint.</summary>
    public X509Certificate2 DefaultCertificate { get; }

    /// <summary>Certificates minted so far (a cache hit mints none).</summary>
    public long MintCount => Interlocked.Read(ref _mintCount);

    /// <summary>Names whose certificates are cached now.</summary>
    public int CachedCount
    {
        get
        {
            lock (_gate)
            {
                return _cache.Count;
            }
        }
    }

    /// <summary>Certificates issued by an ACME CA, looked up first by SNI (null: none for that name); null without ACME.</summary>
    public Func<string?, SslServerAuthenticationOptions?>? Issued { get; set; }

    /// <summary>The TLS options of a handshake whose client asked for <paramref name="serverName"/> (null or empty: no SNI).</summary>
    public SslServerAuthenticationOptions OptionsFor(string? serverName)
    {
        if (Issued?.Invoke(serverName) is { } issued)
        {
            return issued;
        }
        if (_authority is null || _key is null || Normalize(serverName) is not { } host || !_serves(host))
        {
            return _defaultOptions;
        }
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_cache.TryGetValue(host, out var node) && node.Value.RenewAt > now)
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value.Options;
            }
        }
        // Minting runs outside the lock: another handshake for the same new name may mint too, and the later one wins.
        var certificate = _authority.Issue([host], [], _key, now.AddHours(-1), now + LeafLifetime);
        Interlocked.Increment(ref _mintCount);
        var minted = new Minted(host, Options(certificate), certificate, certificate.NotAfter.ToUniversalTime() - RenewBefore);
        lock (_gate)
        {
            if (_cache.Remove(host, out var stale))
            {
                _recent.Remove(stale);
            }
            _cache[host] = _recent.AddFirst(minted);
            while (_cache.Count > _capacity && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _cache.Remove(oldest.Value.Host);
            }
        }
        return minted.Options;
    }

    /// <summary>The certificate a handshake for <paramref name="serverName"/> is given.</summary>
    public X509Certificate2 CertificateFor(string? serverName) => OptionsFor(serverName).ServerCertificateContext!.TargetCertificate;

    /// <summary>The SNI host name in lower case without a final dot, when it lies under the domain; else null.</summary>
    private string? Normalize(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName))
        {
            return null;
        }
        var host = serverName.TrimEnd('.').ToLowerInvariant();
        return HostNames.IsValidHostname(host) && HostNames.IsUnder(host, _domain) ? host : null;
    }

    private SslServerAuthenticationOptions Options(X509Certificate2 certificate) => new()
    {
        // The CA goes with the chain so the context knows it; SslStream leaves a self-signed root out of what it sends.
        ServerCertificateContext = SslStreamCertificateContext.Create(certificate, _authority is null ? null : [_authority.PublicCertificate], offline: true),
        EnabledSslProtocols = TlsDefaults.Protocols,
        ClientCertificateRequired = false,
        ApplicationProtocols = TlsDefaults.HttpAlpn,
    };

    private sealed record Minted(string Host, SslServerAuthenticationOptions Options, X509Certificate2 Certificate, DateTimeOffset RenewAt);
}
