using System.Collections.Concurrent;
using System.Management.Automation;
using TunnelPS.Configuration;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Transport;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Test-TunnelConnectivity</c>: checks, step by step like <c>ngrok diagnose</c>, what stands between this computer
/// and its tunnel server (name resolution, TCP, the proxy's CONNECT, TLS and the certificate, the login and the token,
/// a round trip's latency), and writes one <see cref="TunnelConnectivityStep"/> per step as it completes, for every
/// server address (each node of a cluster). A failed step is not an error: the objects say it, with a hint; -Quiet
/// writes one Boolean per server instead, like Test-Connection -Quiet.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "TunnelConnectivity")]
[OutputType(typeof(TunnelConnectivityStep))]
[OutputType(typeof(bool))]
public sealed class TestTunnelConnectivityCommand : TunnelCmdletBase
{
    /// <summary>The tunnel server, host:port; several nodes of a cluster as an array or one comma-separated string.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[]? ServerAddress { get; set; }

    /// <summary>The token to log in with.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AuthToken { get; set; }

    /// <summary>The SecretManagement secret that holds the auth token.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AuthTokenSecret { get; set; }

    /// <summary>Trust exactly the server certificate with this SHA-256 fingerprint.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ServerCertificateThumbprint { get; set; }

    /// <summary>Accept any server certificate (testing only).</summary>
    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>An HTTP proxy (http://host:port) to reach the server through.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Proxy { get; set; }

    /// <summary>The credential for the proxy.</summary>
    [Parameter]
    [Credential]
    [ValidateNotNull]
    public PSCredential? ProxyCredential { get; set; }

    /// <summary>The config file; default $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>The deadline of each step: a TimeSpan or a number of seconds (default 10, the connect timeout of Start-Tunnel).</summary>
    [Parameter]
    [TimeoutTransformation]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Write one Boolean per server (true when no step failed) instead of the steps.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Resolves the servers and settings, runs the steps and writes them as they complete.</summary>
    protected override void ProcessRecord()
    {
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromDays(1))
        {
            ThrowTerminatingError(new ErrorRecord(
                new PSArgumentOutOfRangeException(nameof(Timeout), Timeout, "The timeout of a step must be more than zero and at most a day, for example -Timeout 10 (seconds)."),
                ErrorIds.InvalidArgument,
                ErrorCategory.InvalidArgument,
                Timeout));
        }

        // Each parameter checked on its own, so that the error names the one that is wrong.
        if (ServerAddress is not null)
        {
            string list = string.Join(",", ServerAddress);
            Parse(() => Engine.Transport.ServerAddress.ParseList(list), list);
        }

        if (ServerCertificateThumbprint is not null)
        {
            Parse(() => CertificatePin.Normalize(ServerCertificateThumbprint, "-" + nameof(ServerCertificateThumbprint)), ServerCertificateThumbprint);
        }

        if (Proxy is not null)
        {
            Parse(() => ProxySettings.Parse(Proxy), Proxy);
        }

        ConnectivityProbeOptions options = ResolveOptions();
        WriteVerbose($"Checking {string.Join(", ", options.Servers)}{(options.Proxy is null ? string.Empty : " through the proxy " + options.Proxy.DisplayAddress)}, {options.StepTimeout.TotalSeconds} s per step.");

        // Steps go to the pipeline as they complete; one the bridge could not take (its queue full) is written after.
        var missed = new ConcurrentQueue<ConnectivityStep>();
        bool quiet = Quiet;
        IReadOnlyList<ConnectivityStep> steps = RunAndDrain(ct => ConnectivityProbe.RunAsync(
            options,
            step =>
            {
                if (!quiet && !Bridge.TryPost(cmdlet => cmdlet.WriteObject(new TunnelConnectivityStep(step))))
                {
                    missed.Enqueue(step);
                }
            },
            ct));
        Bridge.Drain(this);
        while (missed.TryDequeue(out ConnectivityStep? step))
        {
            WriteObject(new TunnelConnectivityStep(step));
        }

        if (Quiet)
        {
            foreach (ServerAddress server in options.Servers)
            {
                string name = server.ToString();
                WriteObject(!steps.Any(s => s.Server == name && s.Status == ConnectivityStepStatus.Failed));
            }
        }
    }

    /// <summary>Servers, token, trust and proxy as Start-Tunnel -Name resolves them: parameters, else the config file, else this session's server.</summary>
    private ConnectivityProbeOptions ResolveOptions()
    {
        string path = AgentConfigFile.ResolvePath(this, ConfigPath);
        AgentConfig config = AgentConfigFile.Load(this, path, required: ConfigPath is not null);
        var resolver = new TunnelConfigResolver(config, (name, vault) => SecretResolver.GetSecret(this, name, vault));
        TunnelConnectionOverrides overrides = CurrentOverrides();

        try
        {
            IReadOnlyList<ServerAddress>? servers = resolver.ResolveServerAddresses(overrides);
            SessionServerDefaults? session = FindSessionServer(servers?[0]);
            if (servers is null && session is not null)
            {
                servers = [session.Address];
            }

            if (servers is null)
            {
                var error = new PSArgumentException(
                    "No tunnel server to check: give one with -ServerAddress host:port, set server_addr in the config file (" + path + "), "
                    + "or start one in this session with Start-TunnelServer.",
                    nameof(ServerAddress));
                ThrowTerminatingError(new ErrorRecord(error, ErrorIds.ServerNotSpecified, ErrorCategory.InvalidArgument, null));
            }

            string? token = resolver.ResolveAuthToken(overrides);
            string? tokenSource = AuthToken is not null ? "-AuthToken"
                : AuthTokenSecret is not null ? "-AuthTokenSecret " + AuthTokenSecret
                : token is not null ? path
                : null;
            if (token is null && session?.AuthToken is { } sessionToken)
            {
                token = sessionToken;
                tokenSource = "this session's server";
            }

            return new ConnectivityProbeOptions
            {
                Servers = servers!,
                AuthToken = token ?? string.Empty,
                AuthTokenSource = tokenSource,
                Trust = resolver.ResolveTrust(overrides, session),
                Proxy = resolver.ResolveProxy(overrides),
                StepTimeout = Timeout,
            };
        }
        catch (SecretResolutionException ex)
        {
            ThrowTerminatingError(ex.ErrorRecord);
            throw;
        }
        catch (TunnelException ex)
        {
            ThrowTerminatingError(AgentConfigFile.ToErrorRecord(ex, path));
            throw;
        }
    }

    /// <summary>What the parameters say about the server, token, proxy and trust.</summary>
    private TunnelConnectionOverrides CurrentOverrides() => new()
    {
        ServerAddress = ServerAddress is null ? null : string.Join(",", ServerAddress),
        AuthToken = AuthToken,
        AuthTokenSecret = AuthTokenSecret,
        Proxy = Proxy,
        ProxyCredential = ProxyCredential?.GetNetworkCredential(),
        ServerCertificateThumbprint = ServerCertificateThumbprint,
        SkipCertificateCheck = SkipCertificateCheck,
    };

    /// <summary>Runs a parser; its error becomes a terminating InvalidArgument error on <paramref name="target"/>.</summary>
    private void Parse<T>(Func<T> parse, string target)
    {
        try
        {
            _ = parse();
        }
        catch (TunnelException ex)
        {
            ThrowTerminatingError(new ErrorRecord(new PSArgumentException(ex.Message, ex), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target));
        }
    }

    private static SessionServerDefaults? FindSessionServer(ServerAddress? address)
    {
        TunnelServer? server = address is null ? SessionRegistry.DefaultServer : SessionRegistry.FindLocalServer(address);
        return server is null
            ? null
            : new SessionServerDefaults(address ?? new ServerAddress("localhost", server.Port), server.CertificateThumbprint, server.AuthTokens.FirstOrDefault());
    }
}
