using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// What the server answers to the ACME server's validation requests while an order is in flight: the key
/// authorization of each HTTP-01 token (/.well-known/acme-challenge/&lt;token&gt; on the plain HTTP port) and the
/// TLS-ALPN-01 certificate of each name (a handshake that offers only acme-tls/1 on the TLS port, RFC 8737). Entries
/// exist only while their challenge is being validated, and orders run one at a time, so it holds a handful at most;
/// it is bounded anyway (<see cref="MaxEntries"/>).
/// </summary>
internal sealed class AcmeChallengeResponder
{
    /// <summary>The most challenges provisioned at once.</summary>
    public const int MaxEntries = 256;

    /// <summary>The HTTP-01 path prefix (RFC 8555 8.3).</summary>
    public const string HttpPathPrefix = "/.well-known/acme-challenge/";

    /// <summary>The ALPN protocol of TLS-ALPN-01 validation handshakes.</summary>
    public static readonly SslApplicationProtocol AcmeTls1 = new("acme-tls/1");

    /// <summary>The id-pe-acmeIdentifier extension (RFC 8737 6.1).</summary>
    public const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

    private readonly ConcurrentDictionary<string, string> _http = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SslServerAuthenticationOptions> _tls = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>HTTP-01 answers given so far.</summary>
    public long HttpAnswers => Interlocked.Read(ref _httpAnswers);

    /// <summary>TLS-ALPN-01 handshakes answered so far.</summary>
    public long TlsAnswers => Interlocked.Read(ref _tlsAnswers);

    private long _httpAnswers;
    private long _tlsAnswers;

    public void AddHttp(string token, string keyAuthorization)
    {
        CheckRoom();
        _http[token] = keyAuthorization;
    }

    public void RemoveHttp(string token) => _http.TryRemove(token, out _);

    /// <summary>The key authorization for a request path, or null when it is not a provisioned challenge.</summary>
    public string? HttpAnswer(string path)
    {
        if (!path.StartsWith(HttpPathPrefix, StringComparison.Ordinal) || !_http.TryGetValue(path[HttpPathPrefix.Length..], out var answer))
        {
            return null;
        }
        Interlocked.Increment(ref _httpAnswers);
        return answer;
    }

    public void AddTlsAlpn(string name, string keyAuthorization)
    {
        CheckRoom();
        var certificate = TlsAlpnCertificate(name, keyAuthorization);
        _tls[name] = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
            EnabledSslProtocols = TlsDefaults.Protocols,
            ApplicationProtocols = [AcmeTls1],
        };
    }

    public void RemoveTlsAlpn(string name) => _tls.TryRemove(name, out _);

    /// <summary>The TLS options of a validation handshake for <paramref name="serverName"/>, or null when no challenge for it is in flight.</summary>
    public SslServerAuthenticationOptions? TlsAlpnOptions(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName) || !_tls.TryGetValue(serverName.TrimEnd('.'), out var options))
        {
            return null;
        }
        Interlocked.Increment(ref _tlsAnswers);
        return options;
    }

    /// <summary>
    /// The self-signed TLS-ALPN-01 certificate (RFC 8737 3): the name as its only SAN, and the critical
    /// id-pe-acmeIdentifier extension holding the SHA-256 of the key authorization as a DER OCTET STRING.
    /// </summary>
    internal static X509Certificate2 TlsAlpnCertificate(string name, string keyAuthorization)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        request.CertificateExtensions.Add(names.Build());
        var digest = SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization));
        var value = new byte[2 + digest.Length];
        value[0] = 0x04; // OCTET STRING
        value[1] = (byte)digest.Length;
        digest.CopyTo(value, 2);
        request.CertificateExtensions.Add(new X509Extension(new Oid(AcmeIdentifierOid), value, critical: true));
        var now = DateTimeOffset.UtcNow;
        using var ephemeral = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));
        return CertificateStore.LoadPfx(ephemeral.Export(X509ContentType.Pkcs12));
    }

    private void CheckRoom()
    {
        if (_http.Count + _tls.Count >= MaxEntries)
        {
            throw new AcmeException($"{MaxEntries} ACME challenges are already in flight; no more are provisioned until they end.");
        }
    }
}
