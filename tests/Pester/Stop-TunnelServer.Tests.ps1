# Stop-TunnelServer: from the pipeline, by port, all; -WhatIf and -PassThru.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Stop-TunnelServer' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'stops a server from the pipeline and frees its ports' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0

        $server | Stop-TunnelServer

        $server.Status | Should -Be 'Stopped'
        @(Get-TunnelServer) | Should -HaveCount 0
        $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $server.Port)
        { $probe.Start() } | Should -Not -Throw
        $probe.Stop()
    }

    It 'does nothing with -WhatIf' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0

        Stop-TunnelServer -WhatIf
        $server | Stop-TunnelServer -WhatIf

        $server.Status | Should -Be 'Running'
        Get-TunnelServer | Should -Be $server
    }

    It 'stops every server of the session without arguments and writes them with -PassThru' {
        $first = Start-TunnelServer -Port 0 -HttpPort 0
        $second = Start-TunnelServer -Port 0 -HttpPort 0

        $stopped = Stop-TunnelServer -PassThru

        $stopped | Should -HaveCount 2
        $stopped | Should -Contain $first
        $stopped | Should -Contain $second
        $first.Status | Should -Be 'Stopped'
        $second.Status | Should -Be 'Stopped'
    }

    It 'stops by -Port and reports an unknown port' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $other = Get-FreeTcpPort

        Stop-TunnelServer -Port $server.Port, $other -ErrorVariable failures -ErrorAction SilentlyContinue

        $server.Status | Should -Be 'Stopped'
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'ServerNotFound,TunnelPS.Commands.StopTunnelServerCommand'
    }

    It 'moves the tunnels of a stopped server to Reconnecting' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite
        try {
            $tunnel = Start-Tunnel -Http $site.Port -Scheme http

            $server | Stop-TunnelServer

            Wait-Until { $tunnel.Status -eq 'Reconnecting' } -Timeout 10 -Because 'the client notices the server is gone'
            $tunnel.Error | Should -Not -BeNullOrEmpty
        }
        finally { $site.Stop() }
    }
}
