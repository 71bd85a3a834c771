using TunnelPS.Engine;
using TunnelPS.Engine.Cluster;

namespace TunnelPS.Configuration;

/// <summary>
/// Start-TunnelServer's cluster settings (-Cluster and its companions, after the config file filled those not given),
/// turned into the engine's <see cref="ClusterOptions"/>.
/// </summary>
internal sealed record ClusterParameters
{
    /// <summary>-Cluster: redis://host:port[,host:port], rediss:// for TLS, or redis-sentinel://host:port[,host:port]/service.</summary>
    internal required string Redis { get; init; }

    /// <summary>-ClusterSecret, or null.</summary>
    internal string? Secret { get; init; }

    /// <summary>-ClusterSecretName: a SecretManagement secret holding the cluster secret, or null.</summary>
    internal string? SecretName { get; init; }

    /// <summary>-ClusterCaFile as a file system path, or null.</summary>
    internal string? CaFile { get; init; }

    /// <summary>-ClusterPasswordName: a SecretManagement secret holding the Redis password, or null.</summary>
    internal string? PasswordName { get; init; }

    /// <summary>-NodeName, or null for the computer name.</summary>
    internal string? NodeName { get; init; }

    /// <summary>-NodeAddress, or null.</summary>
    internal string? NodeAddress { get; init; }

    /// <summary>The engine's cluster options; <paramref name="readSecret"/> reads a secret of the default vault by name.</summary>
    /// <exception cref="ClusterParameterException">The secret is given twice or not at all, the Redis password twice, or -Cluster is no Redis address.</exception>
    /// <exception cref="SecretResolutionException">A named secret cannot be read.</exception>
    internal ClusterOptions ToOptions(Func<string, string> readSecret)
    {
        ArgumentNullException.ThrowIfNull(readSecret);
        if ((Secret is null) == (SecretName is null))
        {
            throw new ClusterParameterException("A cluster node needs the cluster's secret: give exactly one of -ClusterSecret and -ClusterSecretName.", Redis);
        }

        string secret = SecretName is null ? Secret! : readSecret(SecretName);
        string? redisPassword = PasswordName is null ? null : readSecret(PasswordName);
        (IReadOnlyList<string> endpoints, string? user, string? password, bool tls, string? sentinelService) parsed;
        try
        {
            parsed = ClusterOptions.Parse(Redis);
        }
        catch (TunnelConfigurationException ex)
        {
            throw new ClusterParameterException(ex.Message, Redis, "Cluster", "cluster.redis", ex);
        }

        if (redisPassword is not null && parsed.password is not null)
        {
            throw new ClusterParameterException(
                "The Redis password is given twice: in -Cluster (redis://user:password@host) and by -ClusterPasswordName. Keep it in the secret and leave it out of the address (redis://user@host).",
                Redis);
        }

        return new ClusterOptions
        {
            Endpoints = parsed.endpoints,
            RedisUser = parsed.user,
            RedisPassword = redisPassword ?? parsed.password,
            RedisTls = parsed.tls,
            SentinelService = parsed.sentinelService,
            RedisCaFile = CaFile,
            Secret = secret,
            NodeName = NodeName ?? Environment.MachineName,
            NodeAddress = NodeAddress,
        };
    }
}
