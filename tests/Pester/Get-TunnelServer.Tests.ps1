# Get-TunnelServer lists the servers of this session.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-TunnelServer | Stop-TunnelServer
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Get-TunnelServer' {
    It 'writes nothing when no server runs' {
        Get-TunnelServer | Should -BeNullOrEmpty
    }

    Context 'with two servers' {
        BeforeAll {
            $first = Start-TunnelServer -Port 0 -HttpPort 0
            $second = Start-TunnelServer -Port 0 -HttpPort -1
        }

        AfterAll {
            Get-TunnelServer | Stop-TunnelServer
        }

        It 'lists both, oldest first, as the same objects Start-TunnelServer wrote' {
            $servers = Get-TunnelServer
            $servers | Should -HaveCount 2
            $servers[0] | Should -Be $first
            $servers[1] | Should -Be $second
        }

        It 'selects by -Port' {
            Get-TunnelServer -Port $second.Port | Should -Be $second
        }

        It 'writes ServerNotFound for a port without a server' {
            $port = Get-FreeTcpPort
            Get-TunnelServer -Port $port -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'ServerNotFound,TunnelPS.Commands.GetTunnelServerCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }

        It 'completes -Port of Get-TunnelServer and Stop-TunnelServer with the servers'' ports, the address as tooltip' {
            foreach ($command in 'Get-TunnelServer', 'Stop-TunnelServer') {
                $line = "$command -Port "
                $matches = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
                $matches.CompletionText | Should -Be @("$($first.Port)", "$($second.Port)")
                $matches[0].ToolTip | Should -Be "localhost:$($first.Port) (Running), serving *.localhost"
            }

            $prefix = "$($second.Port)".Substring(0, 4)
            $line = "Get-TunnelServer -Port $prefix"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain "$($second.Port)"
        }

        It 'formats as a table' {
            $text = Get-TunnelServer | Out-String
            $text | Should -BeLike '*ServerAddress*'
            $text | Should -BeLike "*localhost:$($first.Port)*"
            $text | Should -BeLike '*SpkiPin*'
            $text | Should -BeLike "*$($first.SpkiPin.Substring(0, 16))*"
        }

        It 'shows the tunnels it serves (ServerTunnel) as a table: URL, tenant, client, connected and connection counts' {
            $site = Start-TestHttpSite
            try {
                $open = Start-Tunnel -Http $site.Port -Scheme http -Name 'served' -ServerAddress "localhost:$($first.Port)" -ServerCertificateThumbprint $first.CertificateThumbprint
                $null = Invoke-TestRequest "$($open.PublicUrl)/"

                $served = $first.Tunnels | Where-Object Url -eq $open.PublicUrl
                $text = $served | Format-Table | Out-String -Width 200

                $served | Should -BeOfType ([TunnelPS.ServerTunnel])
                $text | Should -Match 'Url\s+Tenant\s+ClientAddress\s+Connected\s+Open\s+Connections'
                $text | Should -Match "(?m)^$([regex]::Escape($open.PublicUrl))\s+\S+\s+127\.0\.0\.1:\d+\s+True\s+\d+\s+1\s*$"
            }
            finally {
                Get-Tunnel -Name 'served' -ErrorAction Ignore | Stop-Tunnel
                $site.Stop()
            }
        }

        It 'no longer lists a stopped server' {
            $second | Stop-TunnelServer
            Get-TunnelServer | Should -Be $first
        }
    }
}
