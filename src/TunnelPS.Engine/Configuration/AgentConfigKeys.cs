namespace TunnelPS.Engine.Configuration;

/// <summary>The keys the agent config knows, for its readers' did-you-mean and misplaced-key hints.</summary>
internal static class AgentConfigKeys
{
    public static readonly string[] TopLevel =
    [
        "server_addr", "trust_host_root_certs", "http_proxy", "inspect_addr", "auth_token", "authtoken",
        "authtoken_secret", "authtoken_vault", "server_certificate_thumbprint", "skip_certificate_check",
        "inspect", "inspect_limit", "inspect_body_limit", "inspect_memory_limit", "host_header", "tunnels",
        "inline_completions",
    ];

    public static readonly string[] Tunnel =
    [
        "proto", "subdomain", "hostname", "auth", "remote_port", "inspect", "inspect_limit", "inspect_body_limit", "inspect_memory_limit", "host_header",
        "allow_ip", "deny_ip",
    ];

    public static readonly string[] Protocols = ["http", "https", "tcp"];
}
