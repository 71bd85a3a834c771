# Set-TunnelAuthToken: into the file, or into a SecretManagement vault (the test stand-in module
# tests/Pester/TestModules/Microsoft.PowerShell.SecretManagement; the real one is not installable here).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-settoken-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
    $script:SavedModulePath = $env:PSModulePath
}

AfterAll {
    Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
    $env:PSModulePath = $script:SavedModulePath
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Set-TunnelAuthToken' {
    It 'writes authtoken into a new file, keeping the rest of an existing one' {
        $path = Join-Path $script:Dir 'new/tunnelps.yml'
        Set-TunnelAuthToken -Token 'first-token-value' -ConfigPath $path
        Get-Content -LiteralPath $path -Raw | Should -Match 'authtoken: "first-token-value"'

        Add-Content -LiteralPath $path -Value "tunnels:`n  web: { proto: { http: 3000 } }"
        $config = Set-TunnelAuthToken 'second-token-value' -ConfigPath $path -PassThru
        $text = Get-Content -LiteralPath $path -Raw
        $text | Should -Match 'authtoken: "second-token-value"'
        $text | Should -Not -Match 'first-token-value'
        $config.Tunnels.Name | Should -Be 'web'
        $config.AuthToken | Should -Be '********'
    }

    It 'supports -WhatIf' {
        $path = Join-Path $script:Dir 'whatif.yml'
        Set-TunnelAuthToken -Token 'x-token-value' -ConfigPath $path -WhatIf
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It '-SecretName without -Vault is an argument error' {
        { Set-TunnelAuthToken -Token t -ConfigPath (Join-Path $script:Dir 'x.yml') -SecretName S -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.SetTunnelAuthTokenCommand'
    }

    It 'without SecretManagement, -Vault gives the NotInstalled error and leaves the file alone' {
        $path = Join-Path $script:Dir 'novault.yml'
        $err = { Set-TunnelAuthToken -Token 'vault-token' -Vault TestVault -ConfigPath $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'SecretManagementNotInstalled,TunnelPS.Commands.SetTunnelAuthTokenCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'NotInstalled'
        $err.Exception.Message | Should -Be ("Storing the auth token as the secret 'TunnelPSAuthToken' in the vault 'TestVault' needs the Set-Secret command of " +
            "Microsoft.PowerShell.SecretManagement, which is not installed. Install it with 'Install-PSResource Microsoft.PowerShell.SecretManagement' " +
            "(or Install-Module Microsoft.PowerShell.SecretManagement), register a vault (for example Install-PSResource Microsoft.PowerShell.SecretStore; " +
            "Register-SecretVault -Name Local -ModuleName Microsoft.PowerShell.SecretStore -DefaultVault), or leave out -Vault to store the token in the config file.")
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    Context 'with the SecretManagement test module' {
        BeforeAll {
            $env:PSModulePath = (Join-Path $PSScriptRoot 'TestModules') + [IO.Path]::PathSeparator + $script:SavedModulePath
            Import-Module Microsoft.PowerShell.SecretManagement -Force
            Reset-TestSecretStore
        }

        It '-Vault stores the token with Set-Secret and writes authtoken_secret/authtoken_vault, removing authtoken' {
            $path = Join-Path $script:Dir 'vault.yml'
            Set-TunnelAuthToken -Token 'plain-token-value' -ConfigPath $path
            Set-TunnelAuthToken -Token 'vault-token-value' -Vault OtherVault -ConfigPath $path

            Get-Secret -Name TunnelPSAuthToken -Vault OtherVault -AsPlainText | Should -Be 'vault-token-value'
            $text = Get-Content -LiteralPath $path -Raw
            $text | Should -Match 'authtoken_secret: "TunnelPSAuthToken"'
            $text | Should -Match 'authtoken_vault: "OtherVault"'
            $text | Should -Not -Match 'token-value'
            $config = Get-TunnelConfig -ConfigPath $path
            $config.AuthTokenSecret | Should -Be 'TunnelPSAuthToken'
            $config.AuthTokenVault | Should -Be 'OtherVault'
            $config.AuthToken | Should -BeNullOrEmpty
        }

        It '-SecretName names the secret' {
            $path = Join-Path $script:Dir 'named.yml'
            Set-TunnelAuthToken -Token 'named-token-value' -Vault TestVault -SecretName MyTunnelToken -ConfigPath $path
            Get-Secret -Name MyTunnelToken -Vault TestVault -AsPlainText | Should -Be 'named-token-value'
        }

        It 'a vault that refuses gives AuthTokenSaveFailed' {
            { Set-TunnelAuthToken -Token 't-value' -Vault NoSuchVault -ConfigPath (Join-Path $script:Dir 'refused.yml') -ErrorAction Stop } |
                Should -Throw -ErrorId 'AuthTokenSaveFailed,TunnelPS.Commands.SetTunnelAuthTokenCommand'
        }
    }
}
