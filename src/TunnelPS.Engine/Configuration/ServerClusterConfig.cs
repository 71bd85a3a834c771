namespace TunnelPS.Engine.Configuration;

/// <summary>
/// The <c>cluster:</c> section of a server config file: the Redis the nodes share, the cluster secret (or the name of a
/// SecretManagement secret holding it) and this node's name and address. Values are as written; null means absent.
/// </summary>
public sealed record ServerClusterConfig
{
    /// <summary><c>redis</c>: one Redis address or a list of them, joined as -Cluster takes them (redis://host:port,host:port).</summary>
    public string? Redis { get; init; }

    /// <summary><c>secret</c>: the cluster secret itself.</summary>
    public string? Secret { get; init; }

    /// <summary><c>secret_name</c>: the SecretManagement secret holding the cluster secret.</summary>
    public string? SecretName { get; init; }

    /// <summary><c>redis_ca_file</c>: the PEM file of the CA that signed the Redis server's certificate (rediss://), relative to the file.</summary>
    public string? RedisCaFile { get; init; }

    /// <summary><c>redis_password_name</c>: the SecretManagement secret holding the Redis password.</summary>
    public string? RedisPasswordName { get; init; }

    /// <summary><c>node_name</c>: this node's name in the cluster.</summary>
    public string? NodeName { get; init; }

    /// <summary><c>node_address</c>: the host:port other nodes dial to reach this node.</summary>
    public string? NodeAddress { get; init; }
}
