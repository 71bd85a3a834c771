using System.Management.Automation;
using System.Management.Automation.Host;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Display;
using TunnelPS.Hosting;
using TunnelPS.Session;

namespace TunnelPS.Display;

/// <summary>
/// The live status view of Start-Tunnel -Wait and Show-TunnelStatus: chooses between the full screen (an interactive
/// console at least <see cref="StatusScreen.MinimumWidth"/> columns wide) and plain lines (anything else: output
/// redirected, no console, a runbook or CI, a narrow window), and builds the engine work that shows it.
/// </summary>
/// <remarks>
/// The screen is drawn by the engine (Spectre.Console loads in the engine's load context only; no Spectre type crosses
/// into this assembly) straight onto the console, in its alternate buffer, and restored however the view ends. Plain
/// lines go to the information stream with the PSHOST tag (as Write-Host does), written on the pipeline thread.
/// </remarks>
internal static class TunnelStatusDisplay
{
    /// <summary>True when the full screen can be drawn on <paramref name="host"/>; false for plain lines.</summary>
    internal static bool CanDrawScreen(PSHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!string.Equals(host.Name, "ConsoleHost", StringComparison.Ordinal)
            || Console.IsOutputRedirected
            || Console.IsInputRedirected
            || string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            return host.UI.SupportsVirtualTerminal && Console.WindowWidth >= StatusScreen.MinimumWidth && Console.WindowHeight >= 10;
        }
        catch (Exception ex) when (ex is IOException or PlatformNotSupportedException or InvalidOperationException or NotImplementedException)
        {
            return false; // no console to ask
        }
    }

    /// <summary>
    /// The work that shows <paramref name="tunnels"/> until they have all stopped or the token is cancelled (Ctrl+C);
    /// with <paramref name="stopOnCancel"/> (Start-Tunnel -Wait), Ctrl+C also stops them before the work ends.
    /// </summary>
    internal static Func<CancellationToken, Task> CreateWork(
        PSCmdlet cmdlet,
        PipelineBridge bridge,
        IReadOnlyList<Tunnel> tunnels,
        bool stopOnCancel,
        string hint)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentNullException.ThrowIfNull(bridge);
        ArgumentNullException.ThrowIfNull(tunnels);
        bool screen = CanDrawScreen(cmdlet.Host);
        string version = cmdlet.MyInvocation.MyCommand.Module?.Version?.ToString() ?? typeof(Tunnel).Assembly.GetName().Version?.ToString(3) ?? "?";
        IReadOnlyList<string> servers = tunnels.Select(t => t.ServerAddress).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        IReadOnlyList<TunnelEndpoint> endpoints = tunnels.Select(t => t.Endpoint).ToList();
        Func<string?> inspectUrl = () => tunnels.Select(t => t.InspectUrl).FirstOrDefault(u => !string.IsNullOrEmpty(u));

        return async ct =>
        {
            using var activity = new TunnelActivity(endpoints, version, servers, inspectUrl);
            try
            {
                if (screen)
                {
                    await StatusView.RunScreenAsync(activity, new StatusScreen { Hint = hint }, Console.Out, ConsoleSize, TimeProvider.System, ct).ConfigureAwait(false);
                }
                else
                {
                    await StatusView.RunLinesAsync(activity, line => bridge.TryPost(c => WriteLine(c, line)), TimeProvider.System, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C: handled below.
            }

            if (ct.IsCancellationRequested)
            {
                if (stopOnCancel)
                {
                    foreach (TunnelClient client in tunnels.Select(t => t.Client).Distinct())
                    {
                        await client.StopAsync().ConfigureAwait(false);
                    }

                    foreach (Tunnel tunnel in tunnels)
                    {
                        SessionRegistry.RemoveTunnel(tunnel);
                    }
                }

                ct.ThrowIfCancellationRequested();
            }
        };
    }

    private static void WriteLine(PSCmdlet cmdlet, string line) =>
        cmdlet.WriteInformation(new HostInformationMessage { Message = line }, ["PSHOST"]);

    private static (int Width, int Height) ConsoleSize()
    {
        try
        {
            return (Console.WindowWidth, Console.WindowHeight);
        }
        catch (Exception ex) when (ex is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
            return (80, 24);
        }
    }
}
