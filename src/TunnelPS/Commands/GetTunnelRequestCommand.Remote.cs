using System.Globalization;
using System.Management.Automation;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Inspector;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// Get-TunnelRequest -InspectUrl: the same typed requests, read from another PowerShell session's web inspector
/// through its API (the first window's tunnels, seen from a second window). Invoke-TunnelReplay replays them there.
/// </summary>
public sealed partial class GetTunnelRequestCommand
{
    /// <summary>Read the requests of the web inspector at this URL (another session's, e.g. http://127.0.0.1:4040) instead of this session's.</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? InspectUrl { get; set; }

    private void WriteRemote(string[]? tunnels)
    {
        InspectorClient client;
        try
        {
            client = new InspectorClient(InspectUrl!, keyFile: InspectorHost.KeyFile);
        }
        catch (Engine.TunnelConfigurationException ex)
        {
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException(ex.Message), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, InspectUrl));
            return;
        }

        using (client)
        {
            // The inspector filters what it can; the cmdlet's own filter then applies PowerShell's wildcard rules.
            var query = new InspectorQuery
            {
                TunnelNames = tunnels is not null && tunnels.All(IsSimplePattern) ? tunnels : null,
                Methods = Method,
                Statuses = Status?.Select(s => s.ToString(CultureInfo.InvariantCulture)).ToList(),
                Path = Path is not null && IsSimplePattern(Path) ? Path : null,
                Ids = Id,
            };
            var filter = CreateFilter(tunnels, Id);
            DateTimeOffset? since = MyInvocation.BoundParameters.ContainsKey(nameof(Since)) ? new DateTimeOffset(Since) : null;
            List<CapturedExchange> selected;
            try
            {
                IReadOnlyList<CapturedExchange> summaries = RunAndDrain(ct => client.GetSummariesAsync(query, ct));
                selected = [.. summaries.Where(e => filter.IsMatch(e) && (since is null || e.StartTime >= since)).OrderBy(e => e.StartTime).ThenBy(e => e.Id)];
            }
            catch (InspectorException ex)
            {
                ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.InspectorCallFailed, InspectUrl));
                return;
            }

            var held = selected.Select(e => e.Id).ToHashSet();
            if (First >= 0)
            {
                selected = selected.Take(First).ToList();
            }

            if (Last >= 0)
            {
                selected = selected.Skip(Math.Max(0, selected.Count - Last)).ToList();
            }

            foreach (CapturedExchange summary in selected)
            {
                try
                {
                    CapturedExchange detail = RunAndDrain(ct => client.GetRequestAsync(summary.Id, ct));
                    WriteObject(new TunnelRequest(detail, client.BaseUrl));
                }
                catch (InspectorException ex) when (ex.StatusCode == 404)
                {
                    // Evicted or cleared between the list and the detail: it is no longer held.
                }
                catch (InspectorException ex)
                {
                    ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.InspectorCallFailed, InspectUrl));
                }
            }

            foreach (long id in Id ?? [])
            {
                if (!held.Contains(id))
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"The web inspector at {client.BaseUrl} holds no captured request with id {id}."),
                        ErrorIds.RequestNotFound,
                        ErrorCategory.ObjectNotFound,
                        id));
                }
            }
        }
    }

    /// <summary>A pattern the inspector matches the same way: no [ranges] and no escapes.</summary>
    private static bool IsSimplePattern(string pattern) => pattern.IndexOfAny(['[', ']', '`']) < 0;
}
