using System.Management.Automation;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Export-TunnelRequest</c>: writes captured requests (from the pipeline, or every request
/// held) to a HAR 1.2 file that browsers' developer tools import.
/// </summary>
[Cmdlet(VerbsData.Export, "TunnelRequest", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportTunnelRequestCommand : TunnelCmdletBase
{
    private readonly List<TunnelRequest> _requests = [];
    private bool _hadInput;

    /// <summary>The HAR file to write (overwritten if it exists).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>The requests to export; every request held when none are given.</summary>
    [Parameter(ValueFromPipeline = true)]
    public TunnelRequest[]? InputObject { get; set; }

    /// <summary>Replace the values of Authorization, Proxy-Authorization, Cookie and Set-Cookie by REDACTED.</summary>
    [Parameter]
    public SwitchParameter Redact { get; set; }

    /// <summary>Write the file's FileInfo.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Collects the requests.</summary>
    protected override void ProcessRecord()
    {
        if (InputObject is not null)
        {
            _hadInput = true;
            _requests.AddRange(InputObject.Where(r => r is not null));
        }
    }

    /// <summary>Writes the file.</summary>
    protected override void EndProcessing()
    {
        IEnumerable<CapturedExchange> exchanges = _hadInput
            ? _requests.Select(r => r.Exchange)
            : CaptureRegistry.AllStores().SelectMany(s => s.Snapshot()).OrderBy(e => e.StartTime);
        List<CapturedExchange> list = exchanges.ToList();
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (ShouldProcess(path, $"Export {list.Count} request(s) as HAR"))
        {
            try
            {
                using (FileStream stream = File.Create(path))
                {
                    HarWriter.Write(stream, list, new HarWriterOptions { Redact = Redact });
                }

                if (PassThru)
                {
                    // Through the FileSystem provider, as Get-Item returns it: with PSPath, PSParentPath and the rest,
                    // so it formats in the provider's view (Directory: header, Mode, LastWriteTime, Length, Name).
                    WriteObject(InvokeProvider.Item.Get([path], force: true, literalPath: true), enumerateCollection: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                ThrowTerminatingError(FileWriteError.For(ex, "the HAR file", path, ErrorIds.ExportFailed));
            }
        }

        base.EndProcessing();
    }
}
