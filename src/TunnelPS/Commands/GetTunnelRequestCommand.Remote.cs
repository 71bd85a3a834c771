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

    /// <summary>Writes the matching requests the inspector at -InspectUrl holds, oldest first, and an error for each -Id it does not hold.</summary>
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
            List<CapturedExchange> matching = SelectRemote(client, tunnels);
            var held = matching.Select(e => e.Id).ToHashSet();
            foreach (CapturedExchange summary in TakeFirstLast(matching))
            {
                WriteRemoteDetail(client, summary.Id);
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

    /// <summary>The summaries of the inspector's requests that pass every filter, oldest first.</summary>
    private List<CapturedExchange> SelectRemote(InspectorClient client, string[]? tunnels)
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
        TunnelRequestFilter filter = CreateFilter(tunnels, Id);
        DateTimeOffset? since = MyInvocation.BoundParameters.ContainsKey(nameof(Since)) ? new DateTimeOffset(Since) : null;
        try
        {
            IReadOnlyList<CapturedExchange> summaries = RunAndDrain(ct => client.GetSummariesAsync(query, ct));
            return [.. summaries.Where(e => filter.IsMatch(e) && (since is null || e.StartTime >= since)).OrderBy(e => e.StartTime).ThenBy(e => e.Id)];
        }
        catch (InspectorException ex)
        {
            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.InspectorCallFailed, InspectUrl));
            return [];
        }
    }

    /// <summary>Writes the request <paramref name="id"/> in full, unless the inspector no longer holds it.</summary>
    private void WriteRemoteDetail(InspectorClient client, long id)
    {
        try
        {
            CapturedExchange detail = RunAndDrain(ct => client.GetRequestAsync(id, ct));
            WriteObject(new TunnelRequest(detail, client.BaseUrl));
        }
        catch (InspectorException ex) when (ex.StatusCode == 404)
        {
            // Evicted or cleared between the list and the detail: it is no longer held, and not listing it is the answer.
        }
        catch (InspectorException ex)
        {
            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, ErrorIds.InspectorCallFailed, InspectUrl));
        }
    }

    /// <summary>A pattern the inspector matches the same way: no [ranges] and no escapes.</summary>
    private static bool IsSimplePattern(string pattern) => pattern.IndexOfAny(['[', ']', '`']) < 0;
}
