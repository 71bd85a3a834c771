using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// A second window of the same user: a client trusts, without a pin, a server whose certificate the user's own local
/// CA issued (the CA files in the user's folder, here a temporary one); another user's CA or the switch turned
/// off still refuse, with an error that says what to do.
/// </summary>
public sealed class LocalAuthorityTrustTests : IDisposable
{
    private readonly string _mine = Directory.CreateTempSubdirectory("tunnelps-mine-").FullName;
    private readonly string _theirs = Directory.CreateTempSubdirectory("tunnelps-theirs-").FullName;

    public void Dispose()
    {
        Directory.Delete(_mine, recursive: true);
        Directory.Delete(_theirs, recursive: true);
    }

    private static TunnelClientOptions Unpinned(TunnelServer server, ServerTrust trust, string host = "localhost") =>
        TunnelHarness.ClientOptions(server, TunnelHarness.Http(1, "second")) with
        {
            Server = new ServerAddress(host, server.Port),
            Trust = trust,
        };

    [Fact]
    public async Task A_server_the_same_user_started_is_trusted_through_the_local_CA_without_a_pin()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { Certificate = null, CertificateFolder = _mine });
        await using var client = new TunnelClient(Unpinned(server, new ServerTrust { LocalAuthorityFolder = _mine }));

        var endpoint = Assert.Single(await client.StartAsync());
        Assert.StartsWith("http://second.localhost:", endpoint.PublicUrl, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_users_CA_or_the_switch_off_refuse_and_say_what_to_do()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { Certificate = null, CertificateFolder = _mine });
        // Another user's folder has a CA of its own for the same domain.
        _ = CertificateStore.LoadOrCreateAuthorityCertificate("localhost", _theirs);

        foreach (var (trust, host) in new[]
        {
            (new ServerTrust { LocalAuthorityFolder = _theirs }, "localhost"),
            (new ServerTrust { LocalAuthorityFolder = _mine, TrustLocalAuthorities = false }, "localhost"),
        })
        {
            await using var client = new TunnelClient(Unpinned(server, trust, host) with { ReconnectMaxDelay = TimeSpan.FromMilliseconds(50) });
            var error = await Assert.ThrowsAnyAsync<TunnelException>(() => client.StartAsync());
            Assert.Contains("-ServerCertificateThumbprint " + server.CertificateThumbprint, error.Message, StringComparison.Ordinal);
            Assert.Contains("Export-TunnelCertificate", error.Message, StringComparison.Ordinal);
        }
    }
}
