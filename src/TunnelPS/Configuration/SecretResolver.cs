using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Net;
using System.Security;
using TunnelPS.Errors;

namespace TunnelPS.Configuration;

/// <summary>
/// Reads and stores auth tokens through Microsoft.PowerShell.SecretManagement's <c>Get-Secret</c> and
/// <c>Set-Secret</c>, invoked in the caller's runspace on the pipeline thread.
/// </summary>
/// <remarks>
/// Only the documented command contract is used (<c>Get-Secret -Name n [-Vault v] -AsPlainText</c> returns a
/// string, or a SecureString from older vaults; <c>Set-Secret -Name n [-Vault v] -Secret s</c>), so any module
/// that provides those commands works, which is how the Pester tests run without the real module. Failures
/// are thrown as <see cref="SecretResolutionException"/> carrying the ErrorRecord for the cmdlet to throw.
/// </remarks>
internal static class SecretResolver
{
    /// <summary>The module users install to get Get-Secret and Set-Secret.</summary>
    internal const string ModuleName = "Microsoft.PowerShell.SecretManagement";

    private const string GetSecretScript =
        "param($Name, $Vault) if ($Vault) { Get-Secret -Name $Name -Vault $Vault -AsPlainText -ErrorAction Stop } else { Get-Secret -Name $Name -AsPlainText -ErrorAction Stop }";

    private const string SetSecretScript =
        "param($Name, $Vault, $Secret) if ($Vault) { Set-Secret -Name $Name -Vault $Vault -Secret $Secret -ErrorAction Stop } else { Set-Secret -Name $Name -Secret $Secret -ErrorAction Stop }";

    /// <summary>The secret <paramref name="name"/> (from <paramref name="vault"/>, or the default vault) as plain text.</summary>
    /// <exception cref="SecretResolutionException">SecretManagement is missing, or the secret cannot be read.</exception>
    internal static string GetSecret(PSCmdlet cmdlet, string name, string? vault)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentException.ThrowIfNullOrEmpty(name);
        EnsureCommand(cmdlet, "Get-Secret", $"Reading the auth token from the secret '{name}'", "give the token with -AuthToken instead");

        string where = Describe(name, vault);
        Collection<PSObject> results;
        try
        {
            results = cmdlet.InvokeCommand.InvokeScript(
                useLocalScope: true, ScriptBlock.Create(GetSecretScript), input: null, name, vault ?? string.Empty);
        }
        catch (RuntimeException ex)
        {
            throw NotFound(name, vault, $"Get-Secret could not read {where}: {ex.Message}", ex);
        }

        foreach (PSObject? result in results)
        {
            string? token = result?.BaseObject switch
            {
                string text => text,
                SecureString secure => new NetworkCredential(string.Empty, secure).Password,
                _ => null,
            };
            if (!string.IsNullOrEmpty(token))
            {
                return token;
            }
        }

        throw NotFound(name, vault, $"Get-Secret returned no text for {where}. Store the token with Set-TunnelAuthToken -Vault, or Set-Secret -Name {name}.", null);
    }

    /// <summary>Stores <paramref name="secret"/> as <paramref name="name"/> in <paramref name="vault"/> (or the default vault).</summary>
    /// <exception cref="SecretResolutionException">SecretManagement is missing, or the vault refused the secret.</exception>
    internal static void SetSecret(PSCmdlet cmdlet, string name, string? vault, string secret)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentException.ThrowIfNullOrEmpty(name);
        EnsureCommand(cmdlet, "Set-Secret", $"Storing the auth token as the secret '{name}' in {VaultText(vault)}", "leave out -Vault to store the token in the config file");
        try
        {
            cmdlet.InvokeCommand.InvokeScript(
                useLocalScope: true, ScriptBlock.Create(SetSecretScript), input: null, name, vault ?? string.Empty, secret);
        }
        catch (RuntimeException ex)
        {
            var error = new InvalidOperationException($"Set-Secret could not store {Describe(name, vault)}: {ex.Message}", ex);
            throw new SecretResolutionException(new ErrorRecord(error, ErrorIds.AuthTokenSaveFailed, ErrorCategory.WriteError, name));
        }
    }

    /// <summary>
    /// Throws SecretManagementNotInstalled unless <paramref name="commandName"/> exists. <paramref name="purpose"/> says
    /// what needed it ("Reading the auth token from the secret 'x'") and <paramref name="instead"/> the way around it.
    /// </summary>
    private static void EnsureCommand(PSCmdlet cmdlet, string commandName, string purpose, string instead)
    {
        // GetCommand auto-loads the module that exports the command when it is installed.
        CommandInfo? command = cmdlet.InvokeCommand.GetCommand(commandName, CommandTypes.Cmdlet | CommandTypes.Function | CommandTypes.Alias);
        if (command is not null)
        {
            return;
        }

        var error = new InvalidOperationException(
            $"{purpose} needs the {commandName} command of {ModuleName}, which is not installed. "
            + $"Install it with 'Install-PSResource {ModuleName}' (or Install-Module {ModuleName}), register a vault "
            + "(for example Install-PSResource Microsoft.PowerShell.SecretStore; Register-SecretVault -Name Local -ModuleName Microsoft.PowerShell.SecretStore -DefaultVault), "
            + $"or {instead}.");
        throw new SecretResolutionException(new ErrorRecord(error, ErrorIds.SecretManagementNotInstalled, ErrorCategory.NotInstalled, ModuleName));
    }

    private static SecretResolutionException NotFound(string name, string? vault, string message, Exception? inner)
    {
        var error = new ItemNotFoundException(message, inner);
        return new SecretResolutionException(new ErrorRecord(error, ErrorIds.SecretNotFound, ErrorCategory.ObjectNotFound, name)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = $"Check the name with Get-SecretInfo -Name {name}{(string.IsNullOrEmpty(vault) ? string.Empty : " -Vault " + vault)}." },
        });
    }

    private static string VaultText(string? vault) => string.IsNullOrEmpty(vault) ? "the default vault" : $"the vault '{vault}'";

    private static string Describe(string name, string? vault) =>
        string.IsNullOrEmpty(vault) ? $"the secret '{name}' (default vault)" : $"the secret '{name}' in the vault '{vault}'";
}
