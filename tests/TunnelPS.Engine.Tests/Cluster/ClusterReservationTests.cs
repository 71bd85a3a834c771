using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// The names and ports a token file reserves hold across the cluster (a real redis-server of the test's own): each node
/// announces its file's reservations in Redis, so a node whose file lacks them still refuses them to another token, and
/// a reservation lives while a node announcing it is alive.
/// </summary>
public sealed class ClusterReservationTests
{
    private const string TokenA = "tenant-a-token-0001";
    private const string TokenB = "tenant-b-token-0002";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private static async Task<RawPeer> LoginAsync(TunnelServer server, string token)
    {
        var peer = await RawPeer.DialAsync(server.Port);
        var login = await peer.LoginAsync(token);
        Assert.Equal("", login.Error);
        return peer;
    }

    private static Task<NewTunnel> AskAsync(RawPeer peer, string protocol, string subdomain, int port = 0) =>
        peer.RequestAsync(new ReqTunnel { ReqId = Guid.NewGuid().ToString("n"), Protocol = protocol, Subdomain = subdomain, RemotePort = port });

    private static string TokenFile(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), "tunnelps-cluster-tokens-" + Guid.NewGuid().ToString("N") + ".yml");
        File.WriteAllText(path, text);
        return path;
    }

    private static string ReservingFile(int port) =>
        $"tokens:\n  - token: {TokenA}\n    subdomains: [kept, in.mall]\n    tcp_ports: [{port}]\n  - token: {TokenB}\n";

    [RedisFact]
    public async Task A_node_without_the_reservation_refuses_another_token_the_reserved_name_and_port()
    {
        await using var redis = await RedisProcess.StartAsync();
        var port = ClusterNameTests.FreeTcpPort();
        var file = TokenFile(ReservingFile(port));
        try
        {
            await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", [], o => o with { AuthTokenFile = file });
            // Node b knows both tokens but reserves nothing (a token file that is stale or lacks the entry).
            await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
            await a.Cluster!.ReservationsPublished.WaitAsync(Deadline);

            await using (var other = await LoginAsync(b, TokenB))
            {
                Assert.Contains("kept.localhost is reserved for another token", (await AskAsync(other, "http", "kept")).Error, StringComparison.Ordinal);
                Assert.Contains("lies under kept.localhost, which is reserved for another token", (await AskAsync(other, "https", "x.kept")).Error, StringComparison.Ordinal);
                Assert.Contains("a parent of names reserved for another token", (await AskAsync(other, "http", "mall")).Error, StringComparison.Ordinal);
                Assert.Contains($"The remote port {port} is reserved for another token", (await AskAsync(other, "tcp", "", port)).Error, StringComparison.Ordinal);
            }

            // The token the file reserves them for takes them on the node that does not know the reservation.
            await using (var owner = await LoginAsync(b, TokenA))
            {
                Assert.Equal("", (await AskAsync(owner, "http", "kept")).Error);
                Assert.Equal("", (await AskAsync(owner, "tcp", "", port)).Error);
            }

            // A reservation lives while a node announcing it is alive: once a leaves, "mall" is free for another token.
            await a.StopAsync();
            await using var late = await LoginAsync(b, TokenB);
            Assert.Equal("", (await AskAsync(late, "http", "mall")).Error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [RedisFact]
    public async Task A_reservation_removed_from_a_node_s_token_file_is_withdrawn_from_the_cluster()
    {
        await using var redis = await RedisProcess.StartAsync();
        var port = ClusterNameTests.FreeTcpPort();
        var file = TokenFile(ReservingFile(port));
        try
        {
            await using var a = await ClusterNameTests.StartNodeAsync(redis, "a", [], o => o with { AuthTokenFile = file });
            await using var b = await ClusterNameTests.StartNodeAsync(redis, "b");
            await a.Cluster!.ReservationsPublished.WaitAsync(Deadline);
            await using (var other = await LoginAsync(b, TokenB))
            {
                Assert.Contains("is reserved for another token", (await AskAsync(other, "http", "kept")).Error, StringComparison.Ordinal);
            }

            await File.WriteAllTextAsync(file, $"tokens:\n  - token: {TokenA}\n  - token: {TokenB}\n");
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));

            // Node a reads its file again within a few seconds and withdraws the reservation: another token gets the name.
            var until = DateTime.UtcNow + Deadline;
            string error;
            do
            {
                await using var peer = await LoginAsync(b, TokenB);
                error = (await AskAsync(peer, "http", "kept")).Error;
                if (error.Length > 0)
                {
                    Assert.Contains("is reserved for another token", error, StringComparison.Ordinal);
                    await Task.Delay(100);
                }
            }
            while (error.Length > 0 && DateTime.UtcNow < until);
            Assert.Equal("", error);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
