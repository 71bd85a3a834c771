using System.Collections.ObjectModel;
using System.Management.Automation;
using TunnelPS.Engine;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Import-TunnelRequest</c>: reads a HAR file and writes its entries as TunnelRequest objects,
/// kept with the session's imported requests (Get-TunnelRequest lists them; Invoke-TunnelReplay
/// re-sends them).
/// </summary>
[Cmdlet(VerbsData.Import, "TunnelRequest")]
[OutputType(typeof(TunnelRequest))]
public sealed class ImportTunnelRequestCommand : TunnelCmdletBase
{
    /// <summary>The HAR file(s) to read (wildcards allowed).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>Reads each file and writes its entries.</summary>
    protected override void ProcessRecord()
    {
        foreach (string pattern in Path)
        {
            Collection<string> files;
            try
            {
                files = SessionState.Path.GetResolvedProviderPathFromPSPath(pattern, out _);
            }
            catch (ItemNotFoundException ex)
            {
                WriteError(new ErrorRecord(ex, ErrorIds.ImportFailed, ErrorCategory.ObjectNotFound, pattern));
                continue;
            }

            foreach (string file in files)
            {
                IReadOnlyList<CapturedExchange> exchanges;
                try
                {
                    using FileStream stream = File.OpenRead(file);
                    exchanges = HarReader.Read(stream);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TunnelException)
                {
                    ErrorRecord record = ErrorMapper.ToErrorRecord(ex, ErrorIds.ImportFailed, file);
                    if (ex is TunnelException)
                    {
                        // The reader's message says what is wrong, not with which file.
                        var invalid = new InvalidDataException($"Cannot import '{file}': {ex.Message}", ex);
                        record = new ErrorRecord(invalid, ErrorIds.ImportFailed, ErrorCategory.InvalidData, file);
                    }

                    WriteError(record);
                    continue;
                }

                CaptureStore imported = CaptureRegistry.Imported;
                foreach (CapturedExchange exchange in exchanges)
                {
                    WriteObject(new TunnelRequest(imported.Add(exchange), imported));
                }
            }
        }
    }
}
