# Test stand-in for Microsoft.PowerShell.SecretManagement: see the manifest. Two in-memory vaults,
# TestVault (the default) and OtherVault; errors mimic the real module's ids and categories.
Set-StrictMode -Version 3.0

$script:DefaultVault = 'TestVault'
$script:Vaults = @{ TestVault = @{}; OtherVault = @{} }

function Resolve-TestVault([string] $Vault) {
    if (-not $Vault) { return $script:DefaultVault }
    if (-not $script:Vaults.ContainsKey($Vault)) {
        $exception = [System.ArgumentException]::new("Vault $Vault does not exist in registry.")
        $record = [System.Management.Automation.ErrorRecord]::new($exception, 'GetSecretVaultNotFound', 'ObjectNotFound', $Vault)
        $PSCmdlet.ThrowTerminatingError($record)
    }
    $Vault
}

function Get-Secret {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Position = 1)] [string] $Vault,
        [switch] $AsPlainText
    )
    $vaultName = Resolve-TestVault $Vault
    $store = $script:Vaults[$vaultName]
    if (-not $store.ContainsKey($Name)) {
        $exception = [System.Management.Automation.ItemNotFoundException]::new("The secret $Name was not found.")
        $record = [System.Management.Automation.ErrorRecord]::new($exception, 'GetSecretNotFound', 'ObjectNotFound', $Name)
        $PSCmdlet.WriteError($record)
        return
    }
    $value = $store[$Name]
    if ($AsPlainText -or $value -isnot [string]) { return $value }
    ConvertTo-SecureString -String $value -AsPlainText -Force
}

function Set-Secret {
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Mandatory, Position = 1)] [object] $Secret,
        [string] $Vault
    )
    $vaultName = Resolve-TestVault $Vault
    if ($Secret -is [securestring]) { $Secret = [System.Net.NetworkCredential]::new('', $Secret).Password }
    if ($PSCmdlet.ShouldProcess("$vaultName/$Name", 'Set-Secret')) {
        $script:Vaults[$vaultName][$Name] = $Secret
    }
}

function Remove-Secret {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Vault)
    $null = $script:Vaults[(Resolve-TestVault $Vault)].Remove($Name)
}

function Get-SecretInfo {
    [CmdletBinding()]
    param([string] $Name = '*', [string] $Vault)
    foreach ($vaultName in $script:Vaults.Keys) {
        if ($Vault -and $vaultName -ne $Vault) { continue }
        foreach ($key in $script:Vaults[$vaultName].Keys) {
            if ($key -like $Name) { [pscustomobject]@{ Name = $key; VaultName = $vaultName; Type = 'String' } }
        }
    }
}

function Get-SecretVault {
    # The real one's output shape: Name, ModuleName, IsDefaultVault (SecretVaultInfo), the default vault first.
    [CmdletBinding()]
    param([string[]] $Name = '*')
    foreach ($vaultName in @($script:DefaultVault) + @($script:Vaults.Keys | Where-Object { $_ -ne $script:DefaultVault } | Sort-Object)) {
        if (-not ($Name | Where-Object { $vaultName -like $_ })) { continue }
        [pscustomobject]@{ Name = $vaultName; ModuleName = 'TestVaultExtension'; IsDefaultVault = $vaultName -eq $script:DefaultVault }
    }
}

function Reset-TestSecretStore {
    # Test-only: empties both vaults.
    [CmdletBinding()]
    param()
    $script:Vaults = @{ TestVault = @{}; OtherVault = @{} }
}
