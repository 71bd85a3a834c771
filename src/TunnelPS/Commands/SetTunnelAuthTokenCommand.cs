using System.Management.Automation;
using TunnelPS.Configuration;
using TunnelPS.Engine.Configuration;
using TunnelPS.Errors;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Set-TunnelAuthToken</c>: stores the auth token Start-Tunnel sends. Without -Vault it writes <c>authtoken</c>
/// in the config file; with -Vault it stores the token with SecretManagement's Set-Secret and writes
/// <c>authtoken_secret</c> and <c>authtoken_vault</c> in the file (and removes a plain <c>authtoken</c>).
/// </summary>
[Cmdlet(VerbsCommon.Set, "TunnelAuthToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(TunnelConfig))]
public sealed class SetTunnelAuthTokenCommand : TunnelCmdletBase
{
    /// <summary>The secret name used with -Vault when -SecretName is not given.</summary>
    public const string DefaultSecretName = "TunnelPSAuthToken";

    /// <summary>The token.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public string Token { get; set; } = string.Empty;

    /// <summary>The config file; default $env:TUNNELPS_CONFIG, else ~/.tunnelps/tunnelps.yml.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>A SecretManagement vault to store the token in instead of the file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Completers.SecretVaultCompleter))]
    public string? Vault { get; set; }

    /// <summary>The secret's name in the vault (with -Vault).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string SecretName { get; set; } = DefaultSecretName;

    /// <summary>Writes the updated config (token masked).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Validates -SecretName against -Vault.</summary>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (Vault is null && MyInvocation.BoundParameters.ContainsKey(nameof(SecretName)))
        {
            ThrowTerminatingError(new ErrorRecord(
                new PSArgumentException("-SecretName names the secret in a vault; give -Vault with it, or leave both out to store the token in the config file."),
                ErrorIds.InvalidArgument,
                ErrorCategory.InvalidArgument,
                SecretName));
        }
    }

    /// <summary>Stores the token.</summary>
    protected override void ProcessRecord()
    {
        string path = AgentConfigFile.ResolvePath(this, ConfigPath);
        string action = Vault is null
            ? $"Write authtoken {AgentConfig.Mask(Token)}"
            : $"Store the token as secret '{SecretName}' in vault '{Vault}' and write authtoken_secret";
        if (!ShouldProcess(path, action))
        {
            return;
        }

        try
        {
            if (Vault is null)
            {
                AgentConfigWriter.SetValue(path, "authtoken", Token);
            }
            else
            {
                SecretResolver.SetSecret(this, SecretName, Vault, Token);
                AgentConfigWriter.SetValue(path, "authtoken_secret", SecretName);
                AgentConfigWriter.SetValue(path, "authtoken_vault", Vault);
                AgentConfigWriter.SetValue(path, "authtoken", null);
            }
        }
        catch (SecretResolutionException ex)
        {
            ThrowTerminatingError(ex.ErrorRecord);
        }
        catch (ConfigurationException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.AuthTokenSaveFailed, ErrorCategory.WriteError, path));
        }

        if (PassThru)
        {
            WriteObject(new TunnelConfig(AgentConfigFile.Load(this, path, required: true), path, exists: true));
        }
    }
}
