# Start-Tunnel's server, token and trust resolution shared by -Http/-Tcp and -Name (TunnelConfigResolver): the
# parameter wins over the file, and a refused -Http definition leaves its -Name free.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-resolution-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-Tunnel resolution' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'resolved'
        # The file trusts any certificate; the session server is named by server_addr.
        $skipping = Join-Path $script:Dir 'skip.yml'
        Set-Content -LiteralPath $skipping -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
skip_certificate_check: true
tunnels:
  web: { proto: { http: $($site.Port) } }
"@
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $site.Stop()
    }

    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It 'with the file alone, its skip_certificate_check accepts the server' {
        $tunnel = Start-Tunnel -Name web -ConfigPath $skipping -InspectAddress disabled
        $tunnel.Status | Should -Be 'Online'
    }

    It 'a -ServerCertificateThumbprint parameter wins over the file''s skip_certificate_check: a wrong pin is refused' {
        $wrong = 'ab' * 32
        { Start-Tunnel -Name web -ConfigPath $skipping -ServerCertificateThumbprint $wrong -InspectAddress disabled -ErrorAction Stop } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
        Get-Tunnel | Should -BeNullOrEmpty
    }

    It 'the right pin given as a parameter opens the named tunnel' {
        $tunnel = Start-Tunnel -Name web -ConfigPath $skipping -ServerCertificateThumbprint $server.CertificateThumbprint -InspectAddress disabled
        $tunnel.Status | Should -Be 'Online'
    }

    It 'an -Http tunnel whose definition is refused leaves its -Name free for the next Start-Tunnel' {
        { Start-Tunnel -Http $site.Port -Scheme http -Name 'kept' -HostHeader 'not a host' -InspectAddress disabled -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand'

        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'kept' -InspectAddress disabled
        $tunnel.Name | Should -Be 'kept'
        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'resolved'
    }
}
