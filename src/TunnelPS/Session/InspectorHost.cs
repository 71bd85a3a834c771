using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Transport;
using TunnelPS.Hosting;

namespace TunnelPS.Session;

/// <summary>
/// The one web inspector of this PowerShell process: started by the first Start-Tunnel that wants it, shared by every
/// tunnel started after it, stopped when the session's last tunnel has stopped (and on module removal). It shows
/// every capture the *-TunnelRequest cmdlets read (the registry's tunnel stores and imported requests) and lists the
/// tunnels of the clients attached to it.
/// </summary>
/// <remarks>
/// A Start-Tunnel brackets its work with <see cref="Begin"/> and <see cref="End"/>, so the inspector is not stopped
/// under a tunnel that is still starting. Thread-safe: clients stop on pool threads.
/// </remarks>
internal static class InspectorHost
{
    /// <summary>How long a new inspector waits for the previous one to let go of its port.</summary>
    private static readonly TimeSpan s_stopWait = TimeSpan.FromSeconds(5);

    private static readonly object s_gate = new();
    private static readonly HashSet<TunnelClient> s_clients = new(ReferenceEqualityComparer.Instance);
    private static InspectorServer? s_server;
    private static Task s_stopping = Task.CompletedTask;
    private static int s_pending;

    static InspectorHost()
    {
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(CaptureRegistry).TypeHandle);
        ModuleInitializer.StopAllOnRemove += StopOnRemove;
        CaptureRegistry.Changed += ShowCaptures;
    }

    /// <summary>
    /// The per-user key that admits a connection whose owner the platform does not tell (~/.tunnelps/inspector.key);
    /// Get-TunnelRequest -InspectUrl and Invoke-TunnelReplay send it to an inspector on this computer.
    /// </summary>
    internal static string KeyFile => Path.Combine(CertificateStore.UserFolder, "inspector.key");

    /// <summary>
    /// The address to show for the inspector of <paramref name="client"/>'s tunnels: its page, with the key where the
    /// platform does not tell a connection's owner (opening it once sets the key in the browser), else null.
    /// </summary>
    internal static Uri? ShownUrlFor(TunnelClient client)
    {
        lock (s_gate)
        {
            return s_server is { } server && s_clients.Contains(client)
                ? server.IdentifiesPeers ? server.Url : server.KeyedUrl ?? server.Url
                : null;
        }
    }

    /// <summary>The inspector's URL while it runs, else null.</summary>
    internal static Uri? Url
    {
        get
        {
            lock (s_gate)
            {
                return s_server?.Url;
            }
        }
    }

    /// <summary>The URL of the inspector that lists <paramref name="client"/>'s tunnels, or null.</summary>
    internal static Uri? UrlFor(TunnelClient client)
    {
        lock (s_gate)
        {
            return s_clients.Contains(client) ? s_server?.Url : null;
        }
    }

    /// <summary>
    /// Makes sure the inspector runs (unless <paramref name="address"/> is null: disabled) for a tunnel about to start.
    /// Never throws for the inspector's sake: a tunnel runs without it, and <see cref="InspectorStart.Warning"/> says why.
    /// </summary>
    /// <param name="address">Where to listen; null for disabled.</param>
    /// <param name="isDefault">The address is the default one: a taken port moves to the next free one.</param>
    /// <param name="given">The address was given explicitly (-InspectAddress): warn when the running inspector is elsewhere.</param>
    internal static InspectorStart Begin(InspectorAddress? address, bool isDefault, bool given)
    {
        lock (s_gate)
        {
            s_pending++;
            if (address is null)
            {
                return new InspectorStart(null, null);
            }

            if (s_server is { } running)
            {
                bool elsewhere = given && (!running.EndPoint.Address.Equals(address.Address) || (address.Port != 0 && address.Port != running.EndPoint.Port));
                return new InspectorStart(running.Url, elsewhere
                    ? $"The web inspector of this session already runs at {running.Url}; -InspectAddress {address} is not used. It moves when every tunnel of the session has stopped."
                    : null);
            }

            try
            {
                // The previous inspector may still be letting go of its port.
                s_stopping.Wait(s_stopWait);
            }
            catch (AggregateException)
            {
                // Its failure was logged when it stopped; the port is free either way.
            }

            try
            {
                s_server = InspectorServer.Start(new InspectorOptions
                {
                    Address = address,
                    NextFreePort = isDefault,
                    Version = typeof(InspectorHost).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
                    KeyFile = KeyFile,
                });
            }
            catch (TunnelConfigurationException ex)
            {
                return new InspectorStart(null, ex.Message + " The tunnel runs without the web inspector.");
            }
        }

        ShowCaptures();
        return new InspectorStart(Url, null);
    }

    /// <summary>Ends what <see cref="Begin"/> started: lists <paramref name="client"/> (null when the tunnel did not start) while it runs.</summary>
    internal static void End(InspectorStart start, TunnelClient? client)
    {
        InspectorServer? server;
        lock (s_gate)
        {
            s_pending--;
            server = s_server;
            if (client is not null && start.Url is not null && server is not null)
            {
                s_clients.Add(client);
            }
            else
            {
                StopIfUnusedLocked();
                return;
            }
        }

        server.Catalog.AddClient(client);
        _ = client.Completion.ContinueWith(
            static (_, state) => Detach((TunnelClient)state!),
            client,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static void Detach(TunnelClient client)
    {
        lock (s_gate)
        {
            if (s_clients.Remove(client))
            {
                StopIfUnusedLocked();
            }
        }
    }

    /// <summary>Stops the inspector when no tunnel uses it and none is starting.</summary>
    private static void StopIfUnusedLocked()
    {
        if (s_pending > 0 || s_clients.Count > 0 || s_server is null)
        {
            return;
        }

        InspectorServer server = s_server;
        s_server = null;
        s_stopping = server.StopAsync();
        // Observed: a failure to stop is nobody's error, and must not go unobserved.
        _ = s_stopping.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>Shows the captures the cmdlets read: each tunnel's (replayed to its local service) and the imported ones.</summary>
    private static void ShowCaptures()
    {
        InspectorServer? server = null;
        lock (s_gate)
        {
            server = s_server;
        }

        if (server is null)
        {
            return;
        }

        var captures = CaptureRegistry.Sources
            .Select(s => new InspectedCapture(s.Name, s.Store, s.LocalUri))
            .Append(new InspectedCapture(CaptureRegistry.ImportedStoreName, CaptureRegistry.Imported, null));
        server.Catalog.SetCaptures(captures);
    }

    private static void StopOnRemove()
    {
        Task stopping;
        lock (s_gate)
        {
            s_clients.Clear();
            s_pending = 0;
            StopIfUnusedLocked();
            stopping = s_stopping;
        }

        try
        {
            stopping.Wait(s_stopWait);
        }
        catch (AggregateException)
        {
            // Module removal must not fail because a socket did not close cleanly.
        }
    }
}
