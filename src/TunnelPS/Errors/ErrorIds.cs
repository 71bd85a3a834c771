namespace TunnelPS.Errors;

/// <summary>
/// The ErrorId of every ErrorRecord TunnelPS writes. PowerShell appends the command's type
/// name, so a FullyQualifiedErrorId reads e.g. <c>TunnelNotFound,TunnelPS.Commands.StopTunnelCommand</c>;
/// Pester tests assert those full ids, so an id, once shipped, does not change.
/// </summary>
internal static class ErrorIds
{
    /// <summary>Start-TunnelServer could not start the server (port in use, certificate, configuration).</summary>
    internal const string ServerStartFailed = nameof(ServerStartFailed);

    /// <summary>Start-TunnelServer could not load the certificate given with -CertificatePath.</summary>
    internal const string CertificateLoadFailed = nameof(CertificateLoadFailed);

    /// <summary>A server that Start-TunnelServer -Wait was waiting on stopped with an error.</summary>
    internal const string ServerFailed = nameof(ServerFailed);

    /// <summary>Start-Tunnel has no -ServerAddress and no server runs in this session.</summary>
    internal const string ServerNotSpecified = nameof(ServerNotSpecified);

    /// <summary>Start-Tunnel -Name gave a name that a running tunnel of this session already has.</summary>
    internal const string TunnelNameInUse = nameof(TunnelNameInUse);

    /// <summary>A parameter value is not usable (a port range, a local address, a server address).</summary>
    internal const string InvalidArgument = nameof(InvalidArgument);

    /// <summary>Get-TunnelServer -ClusterNode could not read the cluster's nodes (its Redis does not answer).</summary>
    internal const string ClusterUnavailable = nameof(ClusterUnavailable);

    /// <summary>No server in this session matches the given name or object.</summary>
    internal const string ServerNotFound = nameof(ServerNotFound);

    /// <summary>Start-Tunnel could not open the tunnel (connection, authentication, rejected by the server).</summary>
    internal const string TunnelStartFailed = nameof(TunnelStartFailed);

    /// <summary>No tunnel in this session matches the given name or object.</summary>
    internal const string TunnelNotFound = nameof(TunnelNotFound);

    /// <summary>A tunnel that Start-Tunnel -Wait was showing failed (the client does not retry).</summary>
    internal const string TunnelFailed = nameof(TunnelFailed);

    /// <summary>Stopping a server or tunnel failed.</summary>
    internal const string StopFailed = nameof(StopFailed);

    /// <summary>No captured request matches the given id.</summary>
    internal const string RequestNotFound = nameof(RequestNotFound);

    /// <summary>Invoke-TunnelReplay could not re-send a captured request.</summary>
    internal const string ReplayFailed = nameof(ReplayFailed);

    /// <summary>Invoke-TunnelReplay has no target for a request whose tunnel is not known in this session (give -Uri).</summary>
    internal const string ReplayTargetUnknown = nameof(ReplayTargetUnknown);

    /// <summary>Wait-TunnelRequest reached its timeout without a matching request.</summary>
    internal const string WaitTimedOut = nameof(WaitTimedOut);

    /// <summary>Export-TunnelRequest could not write the HAR file.</summary>
    internal const string ExportFailed = nameof(ExportFailed);

    /// <summary>Export-TunnelCertificate could not write the certificate file, or load the local CA.</summary>
    internal const string CertificateExportFailed = nameof(CertificateExportFailed);

    /// <summary>Import-TunnelRequest could not read or parse the HAR file.</summary>
    internal const string ImportFailed = nameof(ImportFailed);

    /// <summary>The agent or server configuration file is missing or invalid.</summary>
    internal const string ConfigurationInvalid = nameof(ConfigurationInvalid);

    /// <summary>Set-TunnelAuthToken could not save the token.</summary>
    internal const string AuthTokenSaveFailed = nameof(AuthTokenSaveFailed);

    /// <summary>A token is to be read from SecretManagement (authtoken_secret, -AuthTokenSecret) but Get-Secret/Set-Secret is not available.</summary>
    internal const string SecretManagementNotInstalled = nameof(SecretManagementNotInstalled);

    /// <summary>Get-Secret found no secret with the configured name in the configured vault.</summary>
    internal const string SecretNotFound = nameof(SecretNotFound);

    /// <summary>Another session's web inspector (-InspectUrl) could not be reached or refused the call.</summary>
    internal const string InspectorCallFailed = nameof(InspectorCallFailed);

    /// <summary>The HTTP proxy refused the tunnel's CONNECT for lack of (or wrong) proxy credentials (407).</summary>
    internal const string ProxyAuthenticationRequired = nameof(ProxyAuthenticationRequired);
}
