# The README's "Installing for everyday use" and "Uninstalling" steps, run as written (the package is the one
# ./build.ps1 Test made with the Package task) in a fresh pwsh whose home is a temporary folder: PSResourceGet
# installs the module for the current user, it imports by name, serves a tunnel server, and uninstalls.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $readme = Get-Content -Raw -LiteralPath (Join-Path $script:RepoRoot 'README.md')

    # The first ```powershell block under a README heading.
    function Get-ReadmeBlock([string] $Heading) {
        $section = [regex]::Match($readme, '(?ms)^## ' + [regex]::Escape($Heading) + '\s*$(.*?)(?=^## )').Groups[1].Value
        [regex]::Match($section, '(?ms)^```powershell\s*$(.*?)^```').Groups[1].Value
    }
    $script:InstallSteps = Get-ReadmeBlock 'Installing for everyday use'
    $script:UninstallSteps = Get-ReadmeBlock 'Uninstalling'
    $script:Package = Get-ChildItem -LiteralPath (Join-Path $script:RepoRoot 'out') -Filter 'TunnelPS.*.nupkg' -ErrorAction Ignore |
        Sort-Object LastWriteTime | Select-Object -Last 1
}

Describe 'Installing TunnelPS from its package as the README says' {
    It 'has install and uninstall steps' {
        $script:InstallSteps | Should -Match 'Install-PSResource -Name TunnelPS'
        $script:InstallSteps | Should -Match 'Import-Module TunnelPS'
        $script:UninstallSteps | Should -Match 'Uninstall-PSResource -Name TunnelPS'
    }

    It 'installs with PSResourceGet, imports by name, serves, and uninstalls leaving no module behind' {
        if ($null -eq $script:Package) {
            Set-ItResult -Skipped -Because 'no out/TunnelPS.*.nupkg: run ./build.ps1 Package (./build.ps1 Test makes it before Pester)'
            return
        }
        $work = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-install-' + [guid]::NewGuid())
        $null = New-Item -ItemType Directory -Path (Join-Path $work 'home'), (Join-Path $work 'repo/out')
        Copy-Item -LiteralPath $script:Package.FullName -Destination (Join-Path $work 'repo/out')
        # The Package line is what made the package; the rest runs in the folder that holds out/.
        $install = ($script:InstallSteps -split "`n" | Where-Object { $_ -notmatch 'build\.ps1 Package' }) -join "`n"
        $script = @"
`$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath '$(Join-Path $work 'repo')'
$install
"base: `$((Get-Module TunnelPS).ModuleBase)"
`$server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
"serving: `$(`$server.Port -gt 0)"
$($script:UninstallSteps)
"left: `$(@(Get-Module -ListAvailable TunnelPS).Count)"
"@
        $saved = @{}
        foreach ($name in 'HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'USERPROFILE') { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
        try {
            $env:HOME = Join-Path $work 'home'
            $env:USERPROFILE = $env:HOME
            foreach ($name in 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME') { [Environment]::SetEnvironmentVariable($name, $null) }
            $run = Invoke-FreshPwsh -Script $script -Timeout 180
        }
        finally {
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
        try {
            $text = $run.Output -join "`n"
            $run.ExitCode | Should -Be 0 -Because $text
            $text | Should -Match ([regex]::Escape((Join-Path $work 'home')) + '.*TunnelPS')
            $text | Should -Match 'serving: True'
            $text | Should -Match 'left: 0'
        }
        finally {
            Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
