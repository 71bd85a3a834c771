# Start-Tunnel -AllowIP / -DenyIP and allow_ip / deny_ip of named tunnels: what the client asks the server for
# (shown on the Tunnel objects, which read the definition the client sends), and the errors for bad entries.
# Every rule that opens a tunnel requests go through keeps loopback allowed, so these tests hold whether or not
# the server of this build enforces the rules.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer

    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-iprules-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-Tunnel -AllowIP and -DenyIP' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'guarded'
        $echo = Start-TestTcpEchoServer
        $config = Join-Path $script:Dir 'rules.yml'
        Set-Content -LiteralPath $config -Encoding utf8NoBOM -Value @"
tunnels:
  web:
    proto: { http: $($site.Port) }
    allow_ip: [127.0.0.1, "::1", 10.0.0.0/8]
    deny_ip: 10.9.9.9
  open:
    proto: { http: $($site.Port) }
"@
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $site.Stop()
        $echo.Stop()
    }

    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It 'an -Http tunnel carries both lists on each of its URLs, and serves' {
        $tunnels = Start-Tunnel -Http $site.Port -AllowIP '127.0.0.1', '::1', '10.0.0.0/8' -DenyIP '10.1.2.3', '2001:db8::/32'

        $tunnels | Should -HaveCount 2
        foreach ($tunnel in $tunnels) {
            $tunnel.AllowIP | Should -Be @('127.0.0.1', '::1', '10.0.0.0/8')
            $tunnel.DenyIP | Should -Be @('10.1.2.3', '2001:db8::/32')
        }
        (Get-Tunnel -Name $tunnels[0].Name)[0].AllowIP | Should -Be @('127.0.0.1', '::1', '10.0.0.0/8')
        (Invoke-TestRequest $tunnels[0].PublicUrl).Body | Should -Be 'guarded'
    }

    It 'a tunnel without rules shows empty lists' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http

        $tunnel.AllowIP | Should -HaveCount 0
        $tunnel.DenyIP | Should -HaveCount 0
    }

    It 'a -Tcp tunnel takes -DenyIP alone' {
        $tunnel = Start-Tunnel -Tcp $echo.Port -DenyIP '198.51.100.0/24'

        @($tunnel.DenyIP) | Should -Be @('198.51.100.0/24')
        $tunnel.AllowIP | Should -HaveCount 0
        $uri = [uri] $tunnel.PublicUrl
        Invoke-TcpEcho -HostName 127.0.0.1 -Port $uri.Port -Text 'ping' | Should -Be 'ping'
    }

    It 'a named tunnel takes allow_ip and deny_ip from the file' {
        $tunnel = Start-Tunnel -Name web -ConfigPath $config

        $tunnel.AllowIP | Should -Be @('127.0.0.1', '::1', '10.0.0.0/8')
        @($tunnel.DenyIP) | Should -Be @('10.9.9.9')
        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'guarded'
    }

    It '-AllowIP replaces the file''s allow_ip of every named tunnel; the file''s deny_ip stays' {
        $tunnels = Start-Tunnel -Name web, open -ConfigPath $config -AllowIP '127.0.0.0/8', '::1'

        $web = $tunnels | Where-Object Name -eq 'web'
        $open = $tunnels | Where-Object Name -eq 'open'
        $web.AllowIP | Should -Be @('127.0.0.0/8', '::1')
        @($web.DenyIP) | Should -Be @('10.9.9.9')
        $open.AllowIP | Should -Be @('127.0.0.0/8', '::1')
        $open.DenyIP | Should -HaveCount 0
    }

    It '-DenyIP replaces the file''s deny_ip; the file''s allow_ip stays' {
        $tunnel = Start-Tunnel -Name web -ConfigPath $config -DenyIP '192.0.2.0/24'

        @($tunnel.DenyIP) | Should -Be @('192.0.2.0/24')
        $tunnel.AllowIP | Should -Be @('127.0.0.1', '::1', '10.0.0.0/8')
    }

    Context 'bad entries' {
        It 'an -AllowIP entry that is not an address or range is InvalidArgument, naming the parameter and the entry' {
            $err = { Start-Tunnel -Http $site.Port -AllowIP '10.0.0.0/8', '10.0.0.300' -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru

            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $err.TargetObject | Should -Be '10.0.0.300'
            $err.Exception.Message | Should -BeLike "-AllowIP: '10.0.0.300' is not an IP address or a CIDR range. Give addresses such as *"
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'a -DenyIP range with a bad prefix length is InvalidArgument' {
            $err = { Start-Tunnel -Tcp $echo.Port -DenyIP '2001:db8::/129' -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru

            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $err.Exception.Message | Should -BeLike "-DenyIP: '2001:db8::/129' is not an IP address or a CIDR range.*"
        }

        It 'a host name given to -AllowIP of named tunnels fails before the file is used' {
            $err = { Start-Tunnel -Name web -ConfigPath $config -AllowIP 'office.example.com' -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru

            $err.TargetObject | Should -Be 'office.example.com'
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'the name of a refused tunnel stays free' {
            { Start-Tunnel -Http $site.Port -Name 'iprules-free' -AllowIP 'nope' -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand'

            (Start-Tunnel -Http $site.Port -Scheme http -Name 'iprules-free').Name | Should -Be 'iprules-free'
        }

        It 'an empty entry is refused by parameter validation' {
            { Start-Tunnel -Http $site.Port -AllowIP '' -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,TunnelPS.Commands.StartTunnelCommand'
        }

        It 'a bad allow_ip in the file is ConfigurationInvalid at its file:line:col' {
            $bad = Join-Path $script:Dir 'bad-rules.yml'
            Set-Content -LiteralPath $bad -Encoding utf8NoBOM -Value "tunnels:`n  web:`n    proto: { http: $($site.Port) }`n    deny_ip: [10.0.0.0/8, office]`n"
            $err = { Start-Tunnel -Name web -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru

            $err.Exception.Message | Should -BeLike "$($bad):4:27: 'office' in 'deny_ip' of tunnel 'web' is not an IP address or a CIDR range.*"
        }
    }
}
