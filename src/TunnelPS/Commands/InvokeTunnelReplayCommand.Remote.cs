using System.Globalization;
using System.Management.Automation;
using System.Text;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// Invoke-TunnelReplay for requests read from another session's web inspector (Get-TunnelRequest -InspectUrl): the
/// replay runs in that session, through its API, to its tunnel's local service (or -Uri), and is kept in its capture.
/// </summary>
public sealed partial class InvokeTunnelReplayCommand
{
    private void ReplayRemote(TunnelRequest request)
    {
        var inspectUrl = new Uri(request.InspectUrl!);
        ReplayOptions options = BuildOptions();
        string description = DescribeRemote(request, options);
        if (!ShouldProcess(description, $"{description}. Send it?", "Invoke-TunnelReplay"))
        {
            return;
        }

        try
        {
            using var client = new InspectorClient(inspectUrl, keyFile: InspectorHost.KeyFile);
            bool skip = SkipCertificateCheck;
            CapturedExchange replay = RunAndDrain(ct => client.ReplayAsync(request.Id, options, Uri, skip, ct));
            WriteObject(new TunnelRequest(replay, inspectUrl));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, ErrorIds.ReplayFailed, request));
        }
    }

    private string DescribeRemote(TunnelRequest request, ReplayOptions options)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Replay request {request.Id} ({request.Tunnel}) through the web inspector at {request.InspectUrl}: {options.Method ?? request.Method} {options.Target ?? request.Target}");
        text.Append(Uri is null ? " to its tunnel's local service" : $" to {Uri.GetLeftPart(UriPartial.Authority)}");
        if (options.Body is { } body)
        {
            text.Append(CultureInfo.InvariantCulture, $", {body.Length} byte body");
        }

        if (options.SetHeaders is not null)
        {
            text.Append("; set ").AppendJoin(", ", options.SetHeaders.Select(h => $"{h.Key}: {h.Value}"));
        }

        if (options.RemoveHeaders is not null)
        {
            text.Append("; remove ").AppendJoin(", ", options.RemoveHeaders);
        }

        return text.ToString();
    }
}
