# Clear-TunnelRequest: empties captures; -WhatIf keeps them; -All forgets stopped tunnels and keeps running ones listed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite
    $one = Start-Tunnel -Http $site.Port -Scheme http -Name 'clear-one'
    $two = Start-Tunnel -Http $site.Port -Scheme http -Name 'clear-two'
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Clear-TunnelRequest' {
    BeforeEach {
        $null = Invoke-TestRequest "$($one.PublicUrl)/one"
        $null = Invoke-TestRequest "$($two.PublicUrl)/two"
        Wait-Until { @(Get-TunnelRequest -Tunnel 'clear-one').Count -ge 1 -and @(Get-TunnelRequest -Tunnel 'clear-two').Count -ge 1 } -Because 'both tunnels captured a request'
    }

    It 'keeps everything with -WhatIf' {
        $count = @(Get-TunnelRequest).Count
        Clear-TunnelRequest -WhatIf
        @(Get-TunnelRequest) | Should -HaveCount $count
    }

    It 'clears only the named tunnel' {
        Clear-TunnelRequest -Tunnel 'clear-one'

        @(Get-TunnelRequest -Tunnel 'clear-one') | Should -HaveCount 0
        @(Get-TunnelRequest -Tunnel 'clear-two').Count | Should -BeGreaterThan 0
    }

    It 'clears every capture, and capture goes on afterwards' {
        Clear-TunnelRequest

        @(Get-TunnelRequest) | Should -HaveCount 0
        $null = Invoke-TestRequest "$($one.PublicUrl)/after"
        Wait-Until { @(Get-TunnelRequest -Path '/after').Count -eq 1 } -Because 'capture continues after a clear'
    }

    It 'writes TunnelNotFound for a name without captures' {
        Clear-TunnelRequest -Tunnel 'no-such' -ErrorVariable notFound -ErrorAction SilentlyContinue
        $notFound[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.ClearTunnelRequestCommand'
    }

    It 'forgets stopped tunnels with -All' {
        $two | Stop-Tunnel
        @(Get-TunnelRequest -Tunnel 'clear-two').Count | Should -BeGreaterThan 0

        Clear-TunnelRequest -All

        @(Get-TunnelRequest) | Should -HaveCount 0
        Clear-TunnelRequest -Tunnel 'clear-two' -ErrorVariable gone -ErrorAction SilentlyContinue
        $gone[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.ClearTunnelRequestCommand'

        # A running tunnel stays listed, emptied: its next request is found again.
        $null = Invoke-TestRequest "$($one.PublicUrl)/after-all"
        Wait-Until { @(Get-TunnelRequest -Tunnel 'clear-one' -Path '/after-all').Count -eq 1 } -Because 'a running tunnel is still listed after -All'
    }
}
