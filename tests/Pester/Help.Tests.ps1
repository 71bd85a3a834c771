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

    # The columns of each table view of the module's format file, as a table shows them ("Name Protocols Local ...").
    $format = [xml](Get-Content -Raw -LiteralPath (Join-Path (Split-Path (Get-TunnelPSManifestPath)) 'TunnelPS.format.ps1xml'))
    $script:TableViews = @(foreach ($view in $format.Configuration.ViewDefinitions.View) {
            if (-not $view.SelectSingleNode('TableControl')) { continue }
            $headers = @($view.TableControl.TableHeaders.TableColumnHeader)
            $items = @(@($view.TableControl.TableRowEntries.TableRowEntry)[0].TableColumnItems.TableColumnItem)
            @(for ($i = 0; $i -lt $headers.Count; $i++) {
                    if ($headers[$i].Label) { $headers[$i].Label } else { $items[$i].PropertyName }
                }) -join ' '
        })
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

    It 'numbers its examples 1, 2, 3, ... in order, each once' {
        $numbers = @($help.Examples.Example | ForEach-Object { if ("$($_.Title)" -match 'Example (\d+)') { [int]$Matches[1] } else { 0 } })
        $numbers | Should -Be @(1..$numbers.Count) -Because "the titles are: $(@($help.Examples.Example.Title) -join '; ')"
    }

    It 'shows tables only with the columns of the view their objects get' {
        foreach ($example in @($help.Examples.Example)) {
            $lines = @("$($example.Code)" -split '\r?\n')
            for ($i = 1; $i -lt $lines.Count; $i++) {
                if ($lines[$i] -notmatch '^\s*-{2,}(\s+-{2,})*\s*$' -or -not $lines[$i - 1].Trim()) { continue }
                $command = @($lines[0..$i] | Where-Object { $_ -like 'PS>*' })[-1]
                # A command that picks its own columns shows those.
                if ($command -match '\b(Format-Table|ft)\b|\bSelect-Object\s+(-Property\s+)?[A-Za-z]') { continue }
                $columns = (-split $lines[$i - 1]) -join ' '
                $columns | Should -BeIn $script:TableViews -Because "$($example.Title.Trim(" -".ToCharArray())) shows the columns '$columns', which no table view of TunnelPS.format.ps1xml has"
            }
        }
    }

    It 'describes -<Parameter>' -ForEach $Parameters {
        $parameterHelp = Get-Help -Name $Name -Parameter $Parameter
        ($parameterHelp.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }
}
