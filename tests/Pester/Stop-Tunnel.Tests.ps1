# Stop-Tunnel: by name (wildcards) or from the pipeline; frees names; -WhatIf, -PassThru.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body 'stop me'
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $site.Stop()
}

Describe 'Stop-Tunnel' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It 'stops every tunnel from the pipeline: Get-Tunnel | Stop-Tunnel' {
        $tunnels = @(Start-Tunnel -Http $site.Port) + @(Start-Tunnel -Http $site.Port -Scheme http -Name 'second')

        Get-Tunnel | Stop-Tunnel

        Get-Tunnel | Should -BeNullOrEmpty
        $tunnels.Status | Select-Object -Unique | Should -Be 'Stopped'
        Wait-Until { @($server.Tunnels).Count -eq 0 } -Timeout 10 -Because 'the server releases the URLs'
    }

    It 'frees the name: the same -Subdomain can be opened again at once' {
        $first = Start-Tunnel -Http $site.Port -Subdomain 'reuse'
        $first | Stop-Tunnel

        $again = Start-Tunnel -Http $site.Port -Subdomain 'reuse'

        $again.PublicUrl | Should -Be $first.PublicUrl
        (Invoke-TestRequest $again[0].PublicUrl).Body | Should -Be 'stop me'
    }

    It 'stops one URL of an http+https tunnel and leaves the other serving' {
        $http, $https = Start-Tunnel -Http $site.Port -Subdomain 'half'

        $http | Stop-Tunnel

        $http.Status | Should -Be 'Stopped'
        $https.Status | Should -Be 'Online'
        Get-Tunnel | Should -Be $https
        Wait-Until { $server.Tunnels.Url -notcontains $http.PublicUrl } -Timeout 10 -Because 'the server frees the http URL'
        (Invoke-TestRequest $https.PublicUrl -SkipCertificateCheck).StatusCode | Should -Be 200
    }

    It 'stops both URLs of an http+https tunnel by -Name, after Get-Tunnel listed both' {
        $http, $https = Start-Tunnel -Http $site.Port -Subdomain 'pair' -Name 'pair'
        Get-Tunnel -Name 'pair' | Should -Be @($http, $https)

        $stopped = Stop-Tunnel -Name 'pair' -PassThru

        $stopped | Should -Be @($http, $https)
        $http.Status, $https.Status | Should -Be @('Stopped', 'Stopped')
        Get-Tunnel | Should -BeNullOrEmpty
        Wait-Until { @($server.Tunnels).Count -eq 0 } -Timeout 10 -Because 'the server frees both URLs'
    }

    It 'stops by -Name with wildcards and writes them with -PassThru' {
        $null = Start-Tunnel -Http $site.Port -Scheme http -Name 'web-a'
        $null = Start-Tunnel -Http $site.Port -Scheme http -Name 'web-b'
        $keep = Start-Tunnel -Http $site.Port -Scheme http -Name 'api'

        $stopped = Stop-Tunnel -Name 'web-*' -PassThru

        $stopped.Name | Should -Be @('web-a', 'web-b')
        Get-Tunnel | Should -Be $keep
    }

    It 'does nothing with -WhatIf' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http

        $tunnel | Stop-Tunnel -WhatIf
        Stop-Tunnel -Name '*' -WhatIf

        $tunnel.Status | Should -Be 'Online'
        Get-Tunnel | Should -Be $tunnel
    }

    It 'writes TunnelNotFound for a name without a tunnel' {
        Stop-Tunnel -Name 'no-such-tunnel' -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.StopTunnelCommand'
    }
}
