using System.Management.Automation;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Configuration;
using TunnelPS.Engine.Acme;
using TunnelPS.Errors;

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

    private static readonly string[] s_acmeParameters =
        [nameof(AcmeDirectory), nameof(AcmeEmail), nameof(AcmeAcceptTermsOfService), nameof(AcmeRootCertificate), nameof(AcmeExternalAccountBinding)];

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
        X509Certificate2? root = null;
        if (rootPath is not null)
        {
            try
            {
                var certificates = new X509Certificate2Collection();
                certificates.ImportFromPem(File.ReadAllText(rootPath));
                root = certificates.Count > 0 ? certificates[0] : throw new CryptographicException("The file holds no PEM certificate.");
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                var error = new IOException($"-AcmeRootCertificate '{rootPath}' could not be read as a PEM certificate: {ex.Message} Give the PEM file of the root that signed the ACME directory's HTTPS certificate.", ex);
                ThrowTerminatingError(new ErrorRecord(error, ErrorIds.CertificateLoadFailed, ErrorCategory.ReadError, rootPath));
            }
        }

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
        };
    }
}
