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
/// One order of <see cref="AcmeCertificates"/>, from newOrder to the downloaded chain: the account, the authorizations
/// and their challenges (TLS-ALPN-01 and HTTP-01 answered on the server's own ports, DNS-01 through the DNS provider),
/// the CSR and the chain the options prefer.
/// </summary>
internal sealed partial class AcmeCertificates
{
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
        var (chosen, chosenType) = ChooseChallenge(authorization);
        if (chosen is null && _options.DnsProvider is { } dns && authorization.Challenges.FirstOrDefault(c => c.Type == "dns-01" && c.Token.Length is > 0 and <= 256) is { } dnsChallenge)
        {
            await AuthorizeByDnsAsync(client, dns, url, name, dnsChallenge, token).ConfigureAwait(false);
            return;
        }
        if (chosen is null)
        {
            throw new AcmeException($"The ACME directory offers no challenge this server can answer for {name} (offered: {string.Join(", ", authorization.Challenges.Select(c => c.Type))}; answered: tls-alpn-01, http-01).");
        }
        Provide(chosenType, name, chosen.Token, _accountKey!.KeyAuthorization(chosen.Token));
        try
        {
            await client.RespondAsync(chosen.Url, token).ConfigureAwait(false);
            authorization = await client.PollAuthorizationAsync(url, token).ConfigureAwait(false);
        }
        finally
        {
            Withdraw(chosenType, name, chosen.Token);
        }
        if (authorization.Status != "valid")
        {
            var failed = authorization.Challenges.FirstOrDefault(c => c.ProblemDetail is not null);
            throw new AcmeException($"The {chosen.Type} challenge for {name} failed ({authorization.Status}){ProblemText(failed?.ProblemDetail)}", failed?.ProblemType, failed?.ProblemDetail);
        }
        AcmeLog.ChallengeAnswered(_logger, chosen.Type, name);
    }

    /// <summary>The first challenge type of the server's order of preference the authorization offers; none for a wildcard (only DNS-01 proves one).</summary>
    private (AcmeChallenge? Challenge, AcmeChallengeType Type) ChooseChallenge(AcmeAuthorization authorization)
    {
        foreach (var type in authorization.Wildcard ? [] : _options.Challenges)
        {
            var wire = type == AcmeChallengeType.TlsAlpn01 ? "tls-alpn-01" : "http-01";
            if (authorization.Challenges.FirstOrDefault(c => c.Type == wire && c.Token.Length is > 0 and <= 256) is { } chosen)
            {
                return (chosen, type);
            }
        }
        return (null, default);
    }

    /// <summary>Puts a challenge's answer where the validation will look: the TLS-ALPN-01 certificate of the name, or the HTTP-01 token's body.</summary>
    private void Provide(AcmeChallengeType type, string name, string challengeToken, string keyAuthorization)
    {
        if (type == AcmeChallengeType.TlsAlpn01)
        {
            Responder.AddTlsAlpn(name, keyAuthorization);
        }
        else
        {
            Responder.AddHttp(challengeToken, keyAuthorization);
        }
    }

    /// <summary>Takes a challenge's answer away again once the authorization is decided.</summary>
    private void Withdraw(AcmeChallengeType type, string name, string challengeToken)
    {
        if (type == AcmeChallengeType.TlsAlpn01)
        {
            Responder.RemoveTlsAlpn(name);
        }
        else
        {
            Responder.RemoveHttp(challengeToken);
        }
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
}
