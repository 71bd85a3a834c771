using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Server;

/// <summary>
/// How a server starts: the anonymous-server check, the certificate (given, or the persisted defaults), the TLS and
/// HTTP listeners (a port in use or not allowed is explained), and on a cluster node the store first.
/// </summary>
internal static class ServerStartup
{
    /// <summary>Connects to the cluster store first (a store that cannot be reached stops the start), then opens the server as a node.</summary>
    public static async Task<TunnelServer> StartNodeAsync(TunnelServerOptions options, CancellationToken cancellationToken)
    {
        IClusterStore store;
        try
        {
            store = await ClusterNode.ConnectStoreAsync(options.Cluster!, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStoreException ex)
        {
            throw new TunnelConnectionException(ex.Message + " The node does not start without its cluster store.", ex);
        }
        try
        {
            return Open(options, store);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens the listeners and starts the server (as a node of the cluster when <paramref name="store"/> is given).</summary>
    public static TunnelServer Open(TunnelServerOptions options, IClusterStore? store)
    {
        var tenants = new TenantDirectory(options);
        var loopbackOnly = options.BindAddress is null ? tenants.IsAnonymous && !options.AllowAnonymous : ListenerSocket.IsLoopback(options.BindAddress);
        if (tenants.IsAnonymous && !options.AllowAnonymous && !loopbackOnly)
        {
            throw new TunnelConfigurationException(
                $"The server has no auth token, so anyone who reaches {options.BindAddress} could open tunnels on it. Give -AuthToken (or -AuthTokenFile), or -AllowAnonymous to accept that, or bind to loopback.");
        }
        X509Certificate2 certificate;
        LocalCertificateAuthority? authority = null;
        if (options.Certificate is not null)
        {
            certificate = options.Certificate;
        }
        else
        {
            (certificate, authority) = LoadDefaultCertificates(options);
        }
        if (!certificate.HasPrivateKey)
        {
            throw new TunnelConfigurationException("The server certificate has no private key; TLS needs one.");
        }
        var tls = ServerListener.OpenOrExplain(options.BindAddress, loopbackOnly, options.Port, "TLS (-Port)");
        ServerListener? http = null;
        try
        {
            if (options.HttpPort >= 0)
            {
                http = ServerListener.OpenOrExplain(options.BindAddress, loopbackOnly, options.HttpPort, "HTTP (-HttpPort)");
            }
        }
        catch
        {
            tls.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        var server = new TunnelServer(options, certificate, authority, tenants, tls, http, loopbackOnly);
        if (store is not null)
        {
            server.Cluster = new ClusterNode(new ClusterHost(server, server.Connections.Logger), options.Cluster!, store, server.Connections.Logger);
        }
        server.Begin();
        return server;
    }

    private static (X509Certificate2 Certificate, LocalCertificateAuthority Authority) LoadDefaultCertificates(TunnelServerOptions options)
    {
        try
        {
            return CertificateStore.LoadOrCreateDefault(options.Domain, options.CertificateFolder, options.TimeProvider.GetUtcNow());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            var folder = options.CertificateFolder ?? CertificateStore.UserFolder;
            throw new TunnelConfigurationException(
                $"The default certificates of {options.Domain} could not be loaded or created in '{folder}': {MessageText.Clause(ex.Message)}. Check that the folder is yours and writable, or give a certificate with -Certificate or -CertificatePath.",
                ex);
        }
    }
}
