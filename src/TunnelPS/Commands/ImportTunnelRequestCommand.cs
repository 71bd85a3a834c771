using System.Collections.ObjectModel;
using System.Management.Automation;
using TunnelPS.Engine;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Import-TunnelRequest</c>: reads a HAR file as a stream into the session's imported requests
/// (Get-TunnelRequest lists them; Invoke-TunnelReplay re-sends them), which keep within the same capture
/// budget as live traffic, and writes the entries kept as TunnelRequest objects; a warning says what was
/// dropped and why.
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
                // Read as a stream into the imported store, which keeps within the session's capture budget as live
                // traffic does: only what it still holds at the end is written.
                CaptureStore imported = CaptureRegistry.Imported;
                HarImportResult result;
                try
                {
                    using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
                    result = HarImporter.Import(stream, imported, CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TunnelException)
                {
                    ErrorRecord record = ErrorMapper.ToErrorRecord(ex, ErrorIds.ImportFailed, file);
                    if (ex is TunnelException)
                    {
                        // The reader's message says what is wrong (and how many entries before it were imported), not with which file.
                        var invalid = new InvalidDataException($"Cannot import '{file}': {ex.Message}", ex);
                        record = new ErrorRecord(invalid, ErrorIds.ImportFailed, ErrorCategory.InvalidData, file);
                    }

                    WriteError(record);
                    continue;
                }

                if (result.Describe(file) is { } warning)
                {
                    WriteWarning(warning);
                }

                foreach (CapturedExchange exchange in result.Kept)
                {
                    WriteObject(new TunnelRequest(exchange, imported));
                }
            }
        }
    }
}
