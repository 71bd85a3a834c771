# Every exported command has real help: a synopsis, a description, an example, and a
# description for every parameter. Binary cmdlets take help only from MAML
# (en-US/TunnelPS.dll-Help.xml), which build.ps1 generates from docs/<Cmdlet>.md, so a
# command without a docs page fails here once it is implemented.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $commands = @(Get-Command -Module TunnelPS | Sort-Object Name | ForEach-Object {
            @{
                Name       = $_.Name
                Parameters = @($_.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object | ForEach-Object { @{ Parameter = $_ } })
            }
        })
    Remove-Module TunnelPS -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
}

AfterAll {
    Remove-Module TunnelPS -Force -ErrorAction Ignore
}

Describe 'Help coverage' {
    It 'has exported commands to check' -ForEach @(@{ Count = $commands.Count }) {
        if ($Count -eq 0) {
            Set-ItResult -Skipped -Because 'TunnelPS exports no cmdlets yet; each gets its help checks when it is implemented'
        }
        $Count | Should -BeGreaterThan 0
    }
}

Describe 'Help for <Name>' -ForEach $commands {
    BeforeAll {
        $help = Get-Help -Name $Name -Full
    }

    It 'has a synopsis' {
        # Without MAML, PowerShell makes the synopsis up from the syntax.
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        ($help.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example' {
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
        @($help.Examples.Example)[0].Code | Should -Not -BeNullOrEmpty
    }

    It 'describes -<Parameter>' -ForEach $Parameters {
        $parameterHelp = Get-Help -Name $Name -Parameter $Parameter
        ($parameterHelp.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }
}
