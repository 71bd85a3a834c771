using System.Management.Automation;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;
using TunnelPS.Errors;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Export-TunnelCertificate</c>: writes the certificate that visitors and clients should trust to a PEM or DER
/// file: the local CA of a domain (the default certificates of Start-TunnelServer), or, for a server piped in, its CA
/// or the certificate it was given. Never a private key.
/// </summary>
[Cmdlet(VerbsData.Export, "TunnelCertificate", DefaultParameterSetName = DomainSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FileInfo))]
public sealed class ExportTunnelCertificateCommand : TunnelCmdletBase
{
    /// <summary>The local CA of a domain.</summary>
    public const string DomainSet = "Domain";

    /// <summary>The certificate to trust of servers from the pipeline.</summary>
    public const string InputObjectSet = "InputObject";

    private readonly List<X509Certificate2> _certificates = [];

    /// <summary>The file to write (overwritten if it exists).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>The domain whose local CA to export (created if it does not exist yet).</summary>
    [Parameter(ParameterSetName = DomainSet)]
    [ValidateNotNullOrEmpty]
    public string Domain { get; set; } = "localhost";

    /// <summary>Servers whose certificate to trust to export: their local CA, or the certificate they were given.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    [ValidateNotNull]
    public TunnelServer[]? InputObject { get; set; }

    /// <summary>Pem (base64 text) or Der (binary); default Der for a .der or .cer file, else Pem.</summary>
    [Parameter]
    [ValidateSet("Pem", "Der")]
    public string? Format { get; set; }

    /// <summary>Write the file's FileInfo.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Collects the certificates of the piped servers.</summary>
    protected override void ProcessRecord()
    {
        foreach (TunnelServer server in InputObject ?? [])
        {
            X509Certificate2 certificate = server.CertificateAuthority ?? server.Certificate;
            if (!_certificates.Exists(c => c.RawData.AsSpan().SequenceEqual(certificate.RawData)))
            {
                _certificates.Add(certificate);
            }
        }
    }

    /// <summary>Writes the file.</summary>
    protected override void EndProcessing()
    {
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        string format = Format ?? (System.IO.Path.GetExtension(path).ToLowerInvariant() is ".der" or ".cer" ? "Der" : "Pem");
        string domain = Domain.Trim().TrimEnd('.').ToLowerInvariant();
        if (ParameterSetName == DomainSet && !HostNames.IsValidHostname(domain))
        {
            ThrowInvalidArgument($"-Domain '{Domain}' is not a domain name. Give the -Domain of Start-TunnelServer, such as localhost or tunnel.example.com.", Domain);
        }

        if (format == "Der" && _certificates.Count > 1)
        {
            ThrowInvalidArgument(
                $"A DER file holds one certificate, and the servers given trust {_certificates.Count} different ones. Export them to a PEM file (-Format Pem), which holds several, or one server at a time.",
                path);
        }

        string what = ParameterSetName == DomainSet
            ? $"Write the TunnelPS local CA certificate of {domain} as {format.ToUpperInvariant()}"
            : $"Write {_certificates.Count} certificate(s) to trust as {format.ToUpperInvariant()}";
        if (ShouldProcess(path, what))
        {
            List<X509Certificate2> certificates = ParameterSetName == DomainSet ? [LoadAuthority(domain)] : _certificates;
            try
            {
                if (format == "Der")
                {
                    File.WriteAllBytes(path, certificates[0].RawData);
                }
                else
                {
                    File.WriteAllText(path, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")), new UTF8Encoding(false));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                ThrowTerminatingError(FileWriteError.For(ex, "the certificate", path, ErrorIds.CertificateExportFailed));
            }

            if (PassThru)
            {
                WriteObject(new FileInfo(path));
            }
        }

        base.EndProcessing();
    }

    private X509Certificate2 LoadAuthority(string domain)
    {
        try
        {
            return CertificateStore.LoadOrCreateAuthorityCertificate(domain);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            var error = new IOException(
                $"The local CA of {domain} could not be loaded or created in '{CertificateStore.UserFolder}': {ex.Message}", ex);
            ThrowTerminatingError(new ErrorRecord(error, ErrorIds.CertificateExportFailed, ErrorCategory.ReadError, domain));
            return null!;
        }
    }

    private void ThrowInvalidArgument(string message, object target) =>
        ThrowTerminatingError(new ErrorRecord(new PSArgumentException(message), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target));
}
