using System.Management.Automation;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Configuration;
using TunnelPS.Engine.Acme;
using TunnelPS.Errors;
using TunnelPS.Hosting;

namespace TunnelPS.Commands;

/// <summary>
/// Start-TunnelServer's ACME parameters (and the config file's <c>acme:</c> section): public certificates from an ACME
/// CA (Let's Encrypt by default) for every name a tunnel holds.
/// </summary>
public sealed partial class StartTunnelServerCommand
{
    /// <summary>Get a public certificate from an ACME CA for every name a tunnel registers.</summary>
    [Parameter]
    public SwitchParameter Acme { get; set; }

    /// <summary>The ACME directory URL (default: Let's Encrypt's production directory).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? AcmeDirectory { get; set; }

    /// <summary>The ACME account's contact address.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeEmail { get; set; }

    /// <summary>Accepts the ACME CA's terms of service (required with -Acme).</summary>
    [Parameter]
    public SwitchParameter AcmeAcceptTermsOfService { get; set; }

    /// <summary>A PEM file of a root trusted for the ACME directory's own HTTPS (test or private CAs).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeRootCertificate { get; set; }

    /// <summary>External account binding for CAs that need one: user name = key id, password = HMAC key.</summary>
    [Parameter]
    [ValidateNotNull]
    [Credential]
    public PSCredential? AcmeExternalAccountBinding { get; set; }

    /// <summary>A DNS server that takes RFC 2136 updates for the wildcard's DNS-01 record: host:port.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeDnsServer { get; set; }

    /// <summary>The zone -AcmeDnsServer updates (default: -Domain).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeDnsZone { get; set; }

    /// <summary>The name of the TSIG key (hmac-sha256) that may update the zone.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeDnsKeyName { get; set; }

    /// <summary>The TSIG key's secret, base64.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeDnsKeySecret { get; set; }

    /// <summary>A SecretManagement secret (default vault) holding the TSIG key's secret.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AcmeDnsKeySecretName { get; set; }

    /// <summary>A scriptblock that adds and removes the DNS-01 TXT record: param($Name, $Value, $Action) with Action Add or Remove.</summary>
    [Parameter]
    [ValidateNotNull]
    public ScriptBlock? AcmeDnsScript { get; set; }

    private static readonly string[] s_acmeParameters =
        [nameof(AcmeDirectory), nameof(AcmeEmail), nameof(AcmeAcceptTermsOfService), nameof(AcmeRootCertificate), nameof(AcmeExternalAccountBinding),
         nameof(AcmeDnsServer), nameof(AcmeDnsZone), nameof(AcmeDnsKeyName), nameof(AcmeDnsKeySecret), nameof(AcmeDnsKeySecretName), nameof(AcmeDnsScript)];

    /// <summary>The DNS-01 answerer from -AcmeDnsServer and its key, or -AcmeDnsScript; null for neither.</summary>
    private IAcmeDnsProvider? ReadDnsProvider(ServerAcmeConfigView section)
    {
        string? server = AcmeDnsServer ?? section.DnsServer;
        if (AcmeDnsScript is not null)
        {
            if (server is not null)
            {
                ThrowInvalid("-AcmeDnsScript and -AcmeDnsServer both answer DNS-01. Give one: the script for a DNS provider's API, or the server for RFC 2136 updates.", nameof(AcmeDnsScript));
            }

            return new AcmeDnsScriptRunner(AcmeDnsScript);
        }

        if (server is null)
        {
            string? stray = new[] { nameof(AcmeDnsZone), nameof(AcmeDnsKeyName), nameof(AcmeDnsKeySecret), nameof(AcmeDnsKeySecretName) }.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (stray is not null)
            {
                ThrowInvalid($"-{stray} configures RFC 2136 updates, but -AcmeDnsServer is not given. Add -AcmeDnsServer host:port, or leave -{stray} out.", stray);
            }

            return null;
        }

        string? keyName = AcmeDnsKeyName ?? section.DnsKeyName;
        string? secretName = AcmeDnsKeySecretName ?? (AcmeDnsKeySecret is null ? section.DnsKeySecretName : null);
        if (keyName is null || (AcmeDnsKeySecret is null) == (secretName is null))
        {
            ThrowInvalid("RFC 2136 updates need the TSIG key: give -AcmeDnsKeyName and exactly one of -AcmeDnsKeySecret and -AcmeDnsKeySecretName.", server);
        }

        string secret = AcmeDnsKeySecret ?? string.Empty;
        if (secretName is not null)
        {
            try
            {
                secret = SecretResolver.GetSecret(this, secretName, vault: null);
            }
            catch (SecretResolutionException ex)
            {
                ThrowTerminatingError(ex.ErrorRecord);
            }
        }

        try
        {
            return new Rfc2136DnsProvider(server, AcmeDnsZone ?? section.DnsZone ?? Domain, keyName!, secret);
        }
        catch (TunnelPS.Engine.TunnelConfigurationException ex)
        {
            ThrowInvalid(ex.Message, server);
            return null;
        }
    }

    /// <summary>The config file's acme: section's DNS keys, or nothing.</summary>
    private readonly record struct ServerAcmeConfigView(string? DnsServer, string? DnsZone, string? DnsKeyName, string? DnsKeySecretName);

    /// <summary>The PEM root trusted for the ACME directory's own HTTPS (-AcmeRootCertificate, or the file's root_certificate).</summary>
    private X509Certificate2? ReadAcmeRoot(string rootPath)
    {
        try
        {
            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPem(File.ReadAllText(rootPath));
            return certificates.Count > 0 ? certificates[0] : throw new CryptographicException("The file holds no PEM certificate.");
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            var error = new IOException($"-AcmeRootCertificate '{rootPath}' could not be read as a PEM certificate: {ex.Message} Give the PEM file of the root that signed the ACME directory's HTTPS certificate.", ex);
            ThrowTerminatingError(new ErrorRecord(error, ErrorIds.CertificateLoadFailed, ErrorCategory.ReadError, rootPath));
            return null;
        }
    }

    /// <summary>The ACME options from -Acme and its companions merged with the config file's acme: section; null when ACME is off.</summary>
    private AcmeOptions? ReadAcmeOptions()
    {
        var section = _config?.Acme;
        if (!Acme && section is null)
        {
            string? stray = s_acmeParameters.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (stray is not null)
            {
                ThrowInvalid($"-{stray} configures ACME, but -Acme is not given. Add -Acme (and -AcmeAcceptTermsOfService), or leave -{stray} out.", stray);
            }

            return null;
        }

        string? rootPath = AcmeRootCertificate is null
            ? section?.RootCertificate
            : SessionState.Path.GetUnresolvedProviderPathFromPSPath(AcmeRootCertificate);
        X509Certificate2? root = rootPath is null ? null : ReadAcmeRoot(rootPath);

        string? eabKeyId = AcmeExternalAccountBinding?.UserName ?? section?.EabKeyId;
        string? eabKey = AcmeExternalAccountBinding is null ? null : new NetworkCredential(string.Empty, AcmeExternalAccountBinding.Password).Password;
        if (AcmeExternalAccountBinding is null && section?.EabHmacKeyName is { } secretName)
        {
            try
            {
                eabKey = SecretResolver.GetSecret(this, secretName, vault: null);
            }
            catch (SecretResolutionException ex)
            {
                ThrowTerminatingError(ex.ErrorRecord);
            }
        }

        List<AcmeChallengeType> challenges = section?.Challenges is { Count: > 0 } names
            ? [.. names.Select(n => n == "http-01" ? AcmeChallengeType.Http01 : AcmeChallengeType.TlsAlpn01)]
            : [AcmeChallengeType.TlsAlpn01, AcmeChallengeType.Http01];
        if (HttpPort < 0)
        {
            // Without a plain HTTP port only TLS-ALPN-01 can be answered.
            challenges.Remove(AcmeChallengeType.Http01);
        }

        return new AcmeOptions
        {
            Directory = AcmeDirectory ?? section?.Directory ?? AcmeOptions.LetsEncryptProduction,
            Email = AcmeEmail ?? section?.Email,
            AcceptTermsOfService = AcmeAcceptTermsOfService.IsPresent || section?.AcceptTermsOfService == true,
            DirectoryRoot = root,
            EabKeyId = eabKeyId,
            EabHmacKey = eabKey,
            Challenges = challenges,
            PreferredChain = section?.PreferredChain,
            DnsProvider = ReadDnsProvider(new ServerAcmeConfigView(section?.DnsServer, section?.DnsZone, section?.DnsKeyName, section?.DnsKeySecretName)),
        };
    }
}
