# Start-TunnelServer as a user drives it: free ports, certificates, tokens, -Wait.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Start-TunnelServer' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'starts on free ports and writes a running TunnelPS.TunnelServer' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0

        $server | Should -BeOfType ([TunnelPS.TunnelServer])
        $server.Status | Should -Be 'Running'
        $server.Domain | Should -Be 'localhost'
        $server.Port | Should -BeGreaterThan 0
        $server.HttpPort | Should -BeGreaterThan 0
        $server.ServerAddress | Should -Be "localhost:$($server.Port)"
        $server.CertificateThumbprint | Should -Match '^[0-9A-F]{64}$'
        $server.SpkiPin | Should -Match '^sha256//[A-Za-z0-9+/]{43}=$'
        $server.SessionCount | Should -Be 0
        @($server.Tunnels).Count | Should -Be 0
        @(Get-TunnelServer) | Should -Contain $server
    }

    It 'listens on one address only with -BindAddress, and tunnels still work' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -BindAddress 127.0.0.1
        $site = Start-TestHttpSite -Body 'bound'
        try {
            $tunnel = Start-Tunnel -Http $site.Port -Scheme http
            (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'bound'

            $other = [System.Net.Sockets.TcpClient]::new()
            try {
                { $other.Connect([System.Net.IPAddress]::Parse('127.0.0.2'), $server.Port) } | Should -Throw
            }
            finally {
                $other.Dispose()
            }
        }
        finally {
            $site.Stop()
        }
    }

    It 'writes its log as JSON lines with -LogPath, also while no command waits on it' {
        $logPath = Join-Path $TestDrive 'logs/server.jsonl'
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -LogPath $logPath
        $site = Start-TestHttpSite -Body 'logged'
        try {
            $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Subdomain 'logged'
            (Invoke-TestRequest $tunnel.PublicUrl).StatusCode | Should -Be 200
        }
        finally {
            $site.Stop()
        }
        $server | Stop-TunnelServer

        Wait-Until { (Test-Path $logPath) -and (Get-Content $logPath -Raw) -match 'logged\.localhost' } -Timeout 10 -Because 'the log is flushed'
        $entries = Get-Content $logPath | ForEach-Object { $_ | ConvertFrom-Json }
        $entries | Should -Not -BeNullOrEmpty
        $entries | ForEach-Object { $_.level | Should -BeIn @('debug', 'information', 'warning', 'error', 'critical') }
        ($entries | Where-Object message -Match 'logged in') | Should -Not -BeNullOrEmpty
        ($entries | Where-Object message -Match 'http://logged\.localhost') | Should -Not -BeNullOrEmpty
        $entries[0].category | Should -Be 'TunnelPS.Server'
    }

    It 'lists the tunnels registered on it' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite
        try {
            $tunnel = Start-Tunnel -Http $site.Port -Scheme http

            $server.Tunnels | Should -HaveCount 1
            $server.Tunnels[0] | Should -BeOfType ([TunnelPS.ServerTunnel])
            $server.Tunnels[0].Url | Should -Be $tunnel.PublicUrl
            $server.Tunnels[0].Protocol | Should -Be 'http'
            $server.Tunnels[0].Connected | Should -BeTrue
            $server.SessionCount | Should -Be 1
        }
        finally { $site.Stop() }
    }

    It 'without a plain HTTP port (-HttpPort -1) gives https tunnels by default' {
        $server = Start-TunnelServer -Port 0 -HttpPort -1
        $site = Start-TestHttpSite -Body 'tls only'
        try {
            $server.HttpPort | Should -Be -1
            $tunnel = Start-Tunnel -Http $site.Port

            $tunnel | Should -HaveCount 1
            $tunnel.Protocol | Should -Be 'https'
            (Invoke-TestRequest $tunnel.PublicUrl -SkipCertificateCheck).Body | Should -Be 'tls only'
        }
        finally { $site.Stop() }
    }

    It 'uses the certificate given with -Certificate' {
        $key = [System.Security.Cryptography.ECDsa]::Create()
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=localhost', $key, 'SHA256')
        $ephemeral = $request.CreateSelfSigned([DateTimeOffset]::Now.AddDays(-1), [DateTimeOffset]::Now.AddDays(30))
        $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($ephemeral.Export('Pfx'), [string]$null, 'Exportable')
        $expected = [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($certificate.RawData))

        $server = Start-TunnelServer -Port 0 -HttpPort 0 -Certificate $certificate

        $server.CertificateThumbprint | Should -Be $expected
        $server.SpkiPin | Should -Be ('sha256//' + [Convert]::ToBase64String([System.Security.Cryptography.SHA256]::HashData($certificate.PublicKey.ExportSubjectPublicKeyInfo())))
    }

    It 'gives TCP tunnels a port from -TcpPortRange' {
        $port = Get-FreeTcpPort
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -TcpPortRange "$port-$port"
        $echo = Start-TestTcpEchoServer
        try {
            $tunnel = Start-Tunnel -Tcp $echo.Port

            $tunnel.PublicUrl | Should -Be "tcp://localhost:$port"
        }
        finally { $echo.Stop() }
    }

    It 'reports a port in use with ServerStartFailed' {
        $busy = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::IPv6Any, 0)
        $busy.Server.DualMode = $true
        $busy.Start()
        try {
            { Start-TunnelServer -Port $busy.LocalEndpoint.Port -HttpPort 0 } |
                Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand'
            $Error[0].Exception.Message | Should -BeLike '*already in use*'
            @(Get-TunnelServer) | Should -HaveCount 0
        }
        finally { $busy.Stop() }
    }

    It 'starts nothing with -WhatIf: no server, no port bound, no log file' {
        $port = Get-FreeTcpPort
        $logPath = Join-Path $TestDrive 'whatif/server.jsonl'

        $result = Start-TunnelServer -Port $port -HttpPort 0 -LogPath $logPath -WhatIf

        $result | Should -BeNullOrEmpty
        @(Get-TunnelServer) | Should -HaveCount 0
        Test-Path -LiteralPath $logPath | Should -BeFalse
        $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $port)
        $probe.Start()   # the port is still free
        $probe.Stop()
    }

    It 'says under -WhatIf which server it would start' {
        $run = Invoke-FreshPwsh -Script "Import-Module '$(Get-TunnelPSManifestPath)'; Start-TunnelServer -Port 0 -HttpPort 8081 -Domain whatif.test -WhatIf; Start-TunnelServer -Port 9443 -HttpPort -1 -WhatIf; @(Get-TunnelServer).Count"

        $run.ExitCode | Should -Be 0
        $run.Output | Should -Be @(
            'What if: Performing the operation "Start tunnel server" on target "*.whatif.test: a free TLS port, plain HTTP on port 8081".'
            'What if: Performing the operation "Start tunnel server" on target "*.localhost: TLS port 9443, no plain HTTP port".'
            '0')
    }

    It 'rejects a malformed -TcpPortRange' {
        { Start-TunnelServer -Port 0 -HttpPort 0 -TcpPortRange '20000-10000' } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelServerCommand'
    }

    It 'reports a missing -CertificatePath with CertificateLoadFailed' {
        $missing = Join-Path ([System.IO.Path]::GetTempPath()) "tunnelps-missing-$([guid]::NewGuid()).pfx"
        { Start-TunnelServer -Port 0 -HttpPort 0 -CertificatePath $missing } |
            Should -Throw -ErrorId 'CertificateLoadFailed,TunnelPS.Commands.StartTunnelServerCommand'
    }
}

Describe 'Start-TunnelServer -Wait' {
    BeforeEach {
        # -Wait blocks its pipeline: run it in a second runspace of this process, which shares the session registry.
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        $null = $shell.AddScript("Import-Module -Name '$(Get-TunnelPSManifestPath)'; Start-TunnelServer -Port 0 -HttpPort 0 -Wait")
        $handle = $shell.BeginInvoke()
        Wait-Until { @(Get-TunnelServer).Count -eq 1 } -Timeout 30 -Because 'the waiting server starts'
        $server = Get-TunnelServer
    }

    AfterEach {
        Get-TunnelServer | Stop-TunnelServer
        $shell.Dispose()
        $runspace.Dispose()
    }

    It 'writes the server, then returns when Stop-TunnelServer stops it from elsewhere' {
        $handle.IsCompleted | Should -BeFalse

        $server | Stop-TunnelServer

        $handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(30)) | Should -BeTrue
        $output = $shell.EndInvoke($handle)
        $output | Should -HaveCount 1
        $output[0] | Should -Be $server
        $server.Status | Should -Be 'Stopped'
    }

    It 'says on the host, while it waits, where clients connect and which certificate to pin' {
        Wait-Until { $shell.Streams.Information.Count -ge 1 } -Timeout 10 -Because 'the banner is written before the wait'
        $banner = $shell.Streams.Information[0]
        $banner.Tags | Should -Contain 'PSHOST'
        "$($banner.MessageData)" | Should -BeLike "*clients dial $($server.ServerAddress)*$($server.CertificateThumbprint), public key pin $($server.SpkiPin). Press Ctrl+C*"
    }

    It 'stops the server when the command is stopped (Ctrl+C)' {
        $shell.Stop()

        $server.Status | Should -Be 'Stopped'
        @(Get-TunnelServer) | Should -HaveCount 0
    }
}
