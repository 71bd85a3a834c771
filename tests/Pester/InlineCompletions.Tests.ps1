# The inline-completions switch as a user drives it: -NoInlineCompletions, the config keys and
# TUNNELPS_INLINE_COMPLETIONS, each seen in the start line the server and the client log (-Verbose).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule

    function Get-VerboseLine([scriptblock] $Command) {
        & $Command 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Inline socket completions' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'Start-TunnelServer -NoInlineCompletions turns them off and says so' {
        $lines = Get-VerboseLine { Start-TunnelServer -Port 0 -HttpPort 0 -NoInlineCompletions -Verbose }
        $lines | Should -Contain '[Server] Inline socket completions are off: turned off (-NoInlineCompletions, inline_completions: false, or the option InlineSocketCompletions).'
    }

    It 'the server config key inline_completions: false does the same' {
        $file = Join-Path $TestDrive 'server.yml'
        Set-Content -LiteralPath $file -Value "inline_completions: false`n"
        $lines = Get-VerboseLine { Start-TunnelServer -Port 0 -HttpPort 0 -ConfigPath $file -Verbose }
        $lines | Should -Contain '[Server] Inline socket completions are off: turned off (-NoInlineCompletions, inline_completions: false, or the option InlineSocketCompletions).'
    }

    It 'without the switch the server says whether they are on and why' {
        $lines = Get-VerboseLine { Start-TunnelServer -Port 0 -HttpPort 0 -Verbose }
        $line = @($lines | Where-Object { $_ -like '[[]Server] Inline socket completions are*' })
        $line.Count | Should -Be 1
        if ($IsLinux -and [Environment]::ProcessorCount -le 4) {
            $line[0] | Should -BeLike '[[]Server] Inline socket completions are on (* cores, at most 4): *SafeSocketHandle.PreferInlineCompletions*'
        }
    }

    It 'Start-Tunnel -NoInlineCompletions turns them off for the client' {
        $null = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'inline'
        try {
            $lines = Get-VerboseLine { $script:tunnel = Start-Tunnel -Http $site.Port -Scheme http -NoInlineCompletions -Verbose }
            $lines | Should -Contain '[Client] Inline socket completions are off: turned off (-NoInlineCompletions, inline_completions: false, or the option InlineSocketCompletions).'
            (Invoke-TestRequest $script:tunnel.PublicUrl).Body | Should -Be 'inline'
        }
        finally {
            $site.Dispose()
        }
    }

    It 'TUNNELPS_INLINE_COMPLETIONS=0 turns them off for the whole process' {
        $manifest = Get-TunnelPSManifestPath
        $result = Invoke-FreshPwsh -Script @"
`$env:TUNNELPS_INLINE_COMPLETIONS = '0'
Import-Module '$manifest'
`$server = Start-TunnelServer -Port 0 -HttpPort 0 -Verbose 4>&1 | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
`$server
Get-TunnelServer | Stop-TunnelServer
"@
        $result.ExitCode | Should -Be 0 -Because ($result.Output -join "`n")
        $result.Output | Should -Contain '[Server] Inline socket completions are off: TUNNELPS_INLINE_COMPLETIONS=0 turns them off for the whole process.'
    }
}
