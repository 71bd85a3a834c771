using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Client;

/// <summary>
/// Opens a client's tunnels on a control connection: every definition at the first login (where any refusal fails
/// the start), and after a reconnect those that still had a live URL, asking for the same names and ports (where a
/// refusal fails only that tunnel, with the server's reason).
/// </summary>
internal sealed class TunnelOpener(TunnelClient client, EndpointTable endpoints, ILogger logger)
{
    /// <summary>Sends one ReqTunnel per definition, then waits for every answer and records the public URLs.</summary>
    /// <param name="enforcesIPRules">The server announced that it enforces IP rules (tunnels with rules need it).</param>
    public async Task OpenAsync(ControlConnection control, bool firstTime, ServerAddress server, bool enforcesIPRules, CancellationToken token)
    {
        var requests = new List<(TunnelDefinition Definition, PendingRequest Pending)>();
        foreach (var definition in client.Options.Tunnels)
        {
            var existing = endpoints.Of(definition).Where(e => e.Status != TunnelStatus.Stopped).ToList();
            if (!firstTime && existing.Count == 0)
            {
                continue;
            }
            if (definition.HasIPRules && !enforcesIPRules)
            {
                RefuseIPRules(definition, existing, firstTime, server);
                continue;
            }
            var request = TunnelRequestBuilder.Build(definition, firstTime ? null : existing);
            var pending = control.AddPending(request.ReqId, request.Protocol.Split('+').Length);
            requests.Add((definition, pending));
            await control.SendAsync(request, token).ConfigureAwait(false);
        }
        foreach (var (definition, pending) in requests)
        {
            var results = await pending.Completion.Task.WaitAsync(token).ConfigureAwait(false);
            Accept(definition, results, firstTime);
        }
    }

    /// <summary>
    /// An ngrok 1.x server (or an older TunnelPS one) ignores AllowIP/DenyIP: opening the tunnel would expose it to
    /// every address. At the first login that fails the start; after a reconnect the tunnel's URLs fail.
    /// </summary>
    private void RefuseIPRules(TunnelDefinition definition, List<TunnelEndpoint> existing, bool firstTime, ServerAddress server)
    {
        var refusal = $"The tunnel server {server} does not enforce IP rules (it did not announce {ProtocolVersion.IPRulesCapability}), so it would ignore the IP rules of the tunnel {definition.Title} and let every address in. "
            + "Remove the allow/deny rules to open it there, or use a TunnelPS server that enforces them.";
        if (firstTime)
        {
            throw new TunnelRequestException(refusal, TunnelErrorKind.InvalidConfiguration);
        }
        ClientLog.ReopenFailed(logger, definition.Name, refusal);
        foreach (var endpoint in existing)
        {
            endpoint.SetStatus(TunnelStatus.Failed, refusal);
        }
    }

    /// <summary>Records the server's answers to one definition's request: its URLs online, or its refusal.</summary>
    private void Accept(TunnelDefinition definition, IReadOnlyList<NewTunnel> results, bool firstTime)
    {
        // The server's words end up on the admin's terminal (exception, status, logs): shown, never acted on.
        var error = TerminalText.Line(results.FirstOrDefault(r => !string.IsNullOrEmpty(r.Error))?.Error);
        if (error is not null)
        {
            if (firstTime)
            {
                throw new TunnelRequestException($"The tunnel server refused the tunnel {definition.Title}: {error}",
                    error.Contains("already", StringComparison.OrdinalIgnoreCase) ? TunnelErrorKind.Conflict : TunnelErrorKind.InvalidConfiguration);
            }
            ClientLog.ReopenFailed(logger, definition.Name, error);
            foreach (var endpoint in endpoints.Of(definition))
            {
                endpoint.SetStatus(TunnelStatus.Failed, error);
            }
            return;
        }
        foreach (var result in results)
        {
            var endpoint = endpoints.Of(definition).FirstOrDefault(e => e.Protocol == result.Protocol);
            if (endpoint is null)
            {
                endpoint = new TunnelEndpoint(client, definition, result.Protocol, result.Url, client.Options.TimeProvider.GetUtcNow());
                endpoints.Add(endpoint);
            }
            endpoints.Route(result.Url, endpoint);
            endpoint.SetStatus(TunnelStatus.Online);
            ClientLog.TunnelOnline(logger, definition.Name, result.Url, definition.Local.ToString());
        }
    }
}
