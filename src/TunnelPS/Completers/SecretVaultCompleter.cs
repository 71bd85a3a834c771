using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TunnelPS.Completers;

/// <summary>
/// Completes Set-TunnelAuthToken -Vault with the SecretManagement vaults registered for this user (Get-SecretVault),
/// the default vault first; nothing, and no error, when Microsoft.PowerShell.SecretManagement is not installed.
/// </summary>
public sealed class SecretVaultCompleter : IArgumentCompleter
{
    /// <summary>Asks SecretManagement only when it is there; its errors (an unreadable registry) are not shown.</summary>
    private const string Script =
        "if (Get-Command -Name Get-SecretVault -ErrorAction Ignore) { Get-SecretVault -ErrorAction Ignore }";

    /// <summary>Vault names that start with <paramref name="wordToComplete"/>.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        try
        {
            using var powerShell = PowerShell.Create(RunspaceMode.CurrentRunspace);
            WildcardPattern pattern = CompletionValue.Prefix(wordToComplete);
            return powerShell.AddScript(Script).Invoke()
                .Where(v => v is not null)
                .Select(v => (
                    Name: Property(v, "Name") as string,
                    Module: Property(v, "ModuleName") as string,
                    IsDefault: Property(v, "IsDefaultVault") is true))
                .Where(v => !string.IsNullOrEmpty(v.Name) && pattern.IsMatch(v.Name))
                .OrderByDescending(v => v.IsDefault)
                .Select(v => CompletionValue.Result(v.Name!, $"{v.Name}: {(v.IsDefault ? "the default vault, " : string.Empty)}{v.Module ?? "a SecretManagement"} vault"))
                .ToList();
        }
#pragma warning disable CA1031 // A completer must never throw at the user.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }

    // A value that went through a pipeline comes wrapped in a PSObject.
    private static object? Property(PSObject vault, string name) =>
        vault.Properties[name]?.Value is PSObject wrapped ? wrapped.BaseObject : vault.Properties[name]?.Value;
}
