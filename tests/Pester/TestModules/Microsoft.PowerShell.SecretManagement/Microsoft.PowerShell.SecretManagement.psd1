# A TEST STAND-IN for Microsoft.PowerShell.SecretManagement, used only by the TunnelPS Pester tests
# (the real module cannot be installed on the build machines). It implements the part of the real
# module's command contract that TunnelPS relies on - Get-Secret -Name [-Vault] [-AsPlainText] and
# Set-Secret -Name -Secret [-Vault] - storing secrets in memory, plus Reset-TestSecretStore for tests.
@{
    RootModule        = 'Microsoft.PowerShell.SecretManagement.psm1'
    ModuleVersion     = '1.1.2'
    GUID              = '4d1c1a6e-6a4a-4e4f-9d8c-2f0a7d0c9b11'
    Author            = 'TunnelPS tests'
    Description       = 'Test stand-in for Microsoft.PowerShell.SecretManagement (in-memory vaults TestVault and OtherVault).'
    PowerShellVersion = '7.4'
    FunctionsToExport = @('Get-Secret', 'Set-Secret', 'Remove-Secret', 'Get-SecretInfo', 'Get-SecretVault', 'Reset-TestSecretStore')
    CmdletsToExport   = @()
    AliasesToExport   = @()
    VariablesToExport = @()
}
