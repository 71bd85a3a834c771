using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Cluster;
using TunnelPS.Engine.Protocol;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>
/// A node reaches a secured Redis: TLS (rediss://) checked against the CA given as RedisCaFile, and an ACL user allowed
/// only the cluster's keys. A wrong password, a wrong CA and a user without rights on the keys each stop the node's start
/// with an error that says which and what to do.
/// </summary>
public sealed class ClusterStoreSecurityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Secret = "cluster-secret-for-tests-0001";
    private const string Token = "tenant-a-token-0001";

    private static readonly string[] s_acl =
    [
        "user default off",
        "user tunnel on >right-password ~{tunnelps}:* &* +@all",
        "user stranger on >stranger-password ~elsewhere:* &* +@all",
    ];

    /// <summary>A CA, and a server certificate for 127.0.0.1 signed by it, as PEM files in <paramref name="directory"/>.</summary>
    private static RedisTlsFiles WriteCertificates(string directory)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=TunnelPS test Redis CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(16));

        var files = new RedisTlsFiles(Path.Combine(directory, "redis.crt"), Path.Combine(directory, "redis.key"), Path.Combine(directory, "ca.crt"));
        File.WriteAllText(files.CertificateFile, server.ExportCertificatePem());
        File.WriteAllText(files.KeyFile, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(files.CaFile, ca.ExportCertificatePem());
        return files;
    }

    /// <summary>A CA that signed nothing the Redis presents.</summary>
    private static string WriteOtherCa(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Some other CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var other = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var path = Path.Combine(directory, "other-ca.crt");
        File.WriteAllText(path, other.ExportCertificatePem());
        return path;
    }

    private static Task<TunnelServer> StartNodeAsync(RedisProcess redis, string user, string password, string caFile) =>
        TunnelHarness.StartServerAsync(o => o with
        {
            AuthTokens = [Token],
            Cluster = new ClusterOptions
            {
                Endpoints = ClusterOptions.Parse(redis.Address).Endpoints,
                RedisTls = true,
                RedisUser = user,
                RedisPassword = password,
                RedisCaFile = caFile,
                Secret = Secret,
                NodeName = "secure",
                NodeTimeout = ClusterNameTests.NodeTimeout,
                StoreTimeout = TimeSpan.FromSeconds(1),
            },
        });

    [RedisFact]
    public async Task A_node_uses_Redis_over_TLS_as_an_ACL_user_allowed_only_the_cluster_s_keys()
    {
        await using var redis = await RedisProcess.StartAsync(WriteCertificates, s_acl);
        Assert.StartsWith("rediss://", redis.Address, StringComparison.Ordinal);
        await using var node = await StartNodeAsync(redis, "tunnel", "right-password", Path.Combine(redis.Directory, "ca.crt"));
        await using var peer = await RawPeer.DialAsync(node.Port);
        Assert.Equal("", (await peer.LoginAsync(Token)).Error);
        Assert.Equal("", (await peer.RequestAsync(new ReqTunnel { ReqId = "1", Protocol = "http", Subdomain = "secure" })).Error);
        await node.Cluster!.HeartbeatOnceAsync();
        Assert.True(node.Cluster.StoreReachable);
        Assert.Equal("secure", Assert.Single(await node.GetClusterNodesAsync()).Name);
    }

    [RedisFact]
    public async Task A_wrong_Redis_password_stops_the_node_s_start_and_says_so()
    {
        await using var redis = await RedisProcess.StartAsync(WriteCertificates, s_acl);
        var ex = await Assert.ThrowsAsync<TunnelConnectionException>(() => StartNodeAsync(redis, "tunnel", "wrong-password", Path.Combine(redis.Directory, "ca.crt")));
        output.WriteLine(ex.Message);
        Assert.Contains("refused the login of Redis user 'tunnel'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("check the user and password", ex.Message, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task A_Redis_certificate_not_signed_by_the_given_CA_stops_the_node_s_start_and_says_so()
    {
        await using var redis = await RedisProcess.StartAsync(WriteCertificates, s_acl);
        var otherCa = WriteOtherCa(redis.Directory);
        var ex = await Assert.ThrowsAsync<TunnelConnectionException>(() => StartNodeAsync(redis, "tunnel", "right-password", otherCa));
        output.WriteLine(ex.Message);
        Assert.Contains("certificate is not trusted", ex.Message, StringComparison.Ordinal);
        Assert.Contains(otherCa, ex.Message, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task A_Redis_user_without_rights_on_the_cluster_s_keys_stops_the_node_s_start_and_says_so()
    {
        await using var redis = await RedisProcess.StartAsync(WriteCertificates, s_acl);
        var ex = await Assert.ThrowsAsync<TunnelConnectionException>(() => StartNodeAsync(redis, "stranger", "stranger-password", Path.Combine(redis.Directory, "ca.crt")));
        output.WriteLine(ex.Message);
        Assert.Contains("Redis user 'stranger' may not use the cluster's keys", ex.Message, StringComparison.Ordinal);
        Assert.Contains("~{tunnelps}:*", ex.Message, StringComparison.Ordinal);
    }
}
