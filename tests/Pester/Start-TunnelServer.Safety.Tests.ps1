# Start-TunnelServer faces the internet: secure defaults, tenants, limits, and a host process that survives.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Manifest = Get-TunnelPSManifestPath

    function Get-ServerListeners([int] $Port) {
        # The local endpoints listening on a port, from the OS's own table.
        [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().GetActiveTcpListeners() |
            Where-Object Port -EQ $Port | ForEach-Object { $_.Address.ToString() } | Sort-Object
    }

    function Send-RawRequest([int] $Port, [string] $Text, [string] $Source) {
        $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Tcp)
        if ($Source) { $socket.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Parse($Source), 0)) }
        $socket.Connect([System.Net.IPAddress]::Loopback, $Port)
        $null = $socket.Send([System.Text.Encoding]::ASCII.GetBytes($Text))
        $socket
    }

    function Read-Response([System.Net.Sockets.Socket] $Socket, [double] $Timeout = 10) {
        # Reads until a complete head and Content-Length body arrive; returns the status code.
        $Socket.ReceiveTimeout = [int]($Timeout * 1000)
        $buffer = [byte[]]::new(65536)
        $text = ''
        while ($true) {
            $n = $Socket.Receive($buffer)
            if ($n -eq 0) { break }
            $text += [System.Text.Encoding]::ASCII.GetString($buffer, 0, $n)
            $end = $text.IndexOf("`r`n`r`n")
            if ($end -ge 0 -and $text -match '^HTTP/1\.1 (\d{3})') {
                $status = [int]$Matches[1]
                $length = if ($text.Substring(0, $end) -match '(?im)^Content-Length:\s*(\d+)') { [int]$Matches[1] } else { 0 }
                if ($text.Length - $end - 4 -ge $length) { return $status }
            }
        }
        throw "The connection closed after: $text"
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Start-TunnelServer defaults' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'without a token listens on loopback only, and says so' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningVariable warnings -WarningAction SilentlyContinue

        $server.LoopbackOnly | Should -BeTrue
        $server.Anonymous | Should -BeTrue
        ($warnings -join ' ') | Should -BeLike '*listens on loopback only*-AuthToken*-AllowAnonymous*'
        $listeners = @(Get-ServerListeners $server.Port)
        $listeners | Should -Not -BeNullOrEmpty
        $listeners | ForEach-Object { $_ | Should -BeIn @('127.0.0.1', '::1') }
        @(Get-ServerListeners $server.HttpPort) | ForEach-Object { $_ | Should -BeIn @('127.0.0.1', '::1') }
    }

    It 'binds TCP tunnel ports where the server binds' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
        $echo = Start-TestTcpEchoServer
        try {
            $tunnel = Start-Tunnel -Tcp $echo.Port
            $port = ([uri]$tunnel.PublicUrl).Port
            @(Get-ServerListeners $port) | ForEach-Object { $_ | Should -BeIn @('127.0.0.1', '::1') }
            Invoke-TcpEcho -HostName 127.0.0.1 -Port $port -Text 'loopback' | Should -Be 'loopback'
        }
        finally { $echo.Stop() }
    }

    It 'refuses to listen on every address without a token' {
        { Start-TunnelServer -Port 0 -HttpPort 0 -BindAddress 0.0.0.0 } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand'
        $Error[0].Exception.Message | Should -BeLike '*no auth token*-AuthToken*-AllowAnonymous*'
        @(Get-TunnelServer) | Should -HaveCount 0
    }

    It 'listens on every address with a token, or with -AllowAnonymous (and warns)' {
        $withToken = Start-TunnelServer -Port 0 -HttpPort -1 -AuthToken 'public-token-1234'
        $withToken.LoopbackOnly | Should -BeFalse
        $withToken.Anonymous | Should -BeFalse
        $withToken | Stop-TunnelServer

        $open = Start-TunnelServer -Port 0 -HttpPort -1 -AllowAnonymous -WarningVariable warnings -WarningAction SilentlyContinue
        $open.LoopbackOnly | Should -BeFalse
        $open.Anonymous | Should -BeTrue
        ($warnings -join ' ') | Should -BeLike '*anyone who reaches it can open tunnels*'
    }

    It 'reports a token file error with its file, line and column' {
        $file = Join-Path $TestDrive 'tokens.yml'
        Set-Content -LiteralPath $file -Value "tokens:`n  - token: first-token-1234`n    subdomian: [blog]"
        { Start-TunnelServer -Port 0 -HttpPort 0 -AuthTokenFile $file } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand'
        $Error[0].Exception.Message | Should -BeLike "*tokens.yml:3:5:*Unknown token setting 'subdomian'*Did you mean 'subdomains'?*"
        $Error[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'rejects a bad -DenyIP and a bad -AllowedHostname with a clear message' {
        { Start-TunnelServer -Port 0 -HttpPort 0 -DenyIP '10.0.0.0/33' } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand'
        $Error[0].Exception.Message | Should -BeLike "*'10.0.0.0/33' is not an IP address or a CIDR range*"
        { Start-TunnelServer -Port 0 -HttpPort 0 -AllowedHostname 'not a host' } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand'
    }

    It 'shows tunnels with the tenant and a session label, never the session id' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'listing-token-1234'
        $site = Start-TestHttpSite
        try {
            $null = Start-Tunnel -Http $site.Port -Scheme http -AuthToken 'listing-token-1234'
            $entry = $server.Tunnels[0]
            $entry.Session | Should -Match '^[0-9a-f]{8}$'
            $entry.Tenant | Should -Match '^token:[0-9a-f]{8}$'
            $entry.PSObject.Properties.Name | Should -Not -Contain 'ClientId'
            $server.ConnectionCount | Should -BeGreaterThan 0
            $server.MaxConnections | Should -BeGreaterThan 0
        }
        finally { $site.Stop() }
    }
}

Describe 'A server under a connection flood' -Skip:(-not $IsLinux) {
    # Finding 3: started under `ulimit -n 400`, 450 idle connections that each sent "GET / HTTP/1.1\r\n" exhausted the
    # descriptors; the accept loop spun, the thread pool could not start a thread, and the whole pwsh process exited.
    BeforeAll {
        $script:tlsPort = Get-FreeTcpPort
        $script:httpPort = Get-FreeTcpPort
        $script:serverProcess = Start-BackgroundPwsh -DescriptorLimit 400 -Script @"
Import-Module '$Manifest'
Start-TunnelServer -Port $tlsPort -HttpPort $httpPort -BindAddress 127.0.0.1 -AuthToken 'flood-token-1234' -Wait -WarningAction Continue
"@
        Wait-Until {
            $probe = [System.Net.Sockets.TcpClient]::new()
            try { $probe.Connect('127.0.0.1', $tlsPort); $true } catch { $false } finally { $probe.Dispose() }
        } -Timeout 60 -Because 'the server in the limited process listens'
        $script:site = Start-TestHttpSite -Body 'still here'
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        if ($script:site) { $script:site.Stop() }
        if ($script:serverProcess) { $script:serverProcess.Dispose() }
    }

    It 'keeps the process alive and serving the connections it has, and serves again afterwards' {
        $null = Start-Tunnel -Http $site.Port -Scheme http -Subdomain flood -ServerAddress "127.0.0.1:$tlsPort" -AuthToken 'flood-token-1234' -SkipCertificateCheck
        $request = "GET / HTTP/1.1`r`nHost: flood.localhost`r`n`r`n"
        $keptAlive = Send-RawRequest -Port $httpPort -Text $request
        Read-Response $keptAlive | Should -Be 200

        $flood = [System.Collections.Generic.List[System.Net.Sockets.Socket]]::new()
        try {
            for ($i = 0; $i -lt 452; $i++) {
                try {
                    $flood.Add((Send-RawRequest -Port $httpPort -Text "GET / HTTP/1.1`r`n" -Source "127.0.4.$(1 + $i % 4)"))
                }
                catch [System.Net.Sockets.SocketException] {
                    # A refused or reset connection is the server protecting itself.
                }
            }
            $serverProcess.HasExited | Should -BeFalse -Because "the server process must survive: $($serverProcess.Lines -join ' | ')"

            $null = $keptAlive.Send([System.Text.Encoding]::ASCII.GetBytes($request))
            Read-Response $keptAlive | Should -Be 200
            Wait-Until { $serverProcess.Lines -match 'Connection refused: ' } -Timeout 20 -Because 'the server warns that a limit was reached'
        }
        finally {
            $flood | ForEach-Object { $_.Dispose() }
            $keptAlive.Dispose()
        }

        Wait-Until { (Invoke-TestRequest "http://flood.localhost:$httpPort/after").Body -eq 'still here' } -Timeout 30 -Because 'the server serves new visitors once the flood is gone'
        $serverProcess.HasExited | Should -BeFalse
        ($serverProcess.Lines -match 'OutOfMemory|Unhandled exception') | Should -BeNullOrEmpty
    }
}

Describe 'A client killed with SIGKILL' -Skip:(-not $IsLinux -and -not $IsMacOS) {
    # Finding 8: after kill -9 the restarted client could not get its names back for 60 s, and then any tenant could
    # take them first.
    BeforeAll {
        $script:server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'owner-token-1234', 'other-token-1234'
        $script:site = Start-TestHttpSite -Body 'mine again'
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        if ($script:site) { $script:site.Stop() }
        $script:server | Stop-TunnelServer
    }

    It 'lets the restarted client take its name back at once, and no other token' {
        $client = Start-BackgroundPwsh -Script @"
Import-Module '$Manifest'
`$t = Start-Tunnel -Http $($site.Port) -Scheme http -Subdomain mine -ServerAddress '127.0.0.1:$($server.Port)' -AuthToken 'owner-token-1234' -SkipCertificateCheck
Write-Output "ONLINE `$(`$t.PublicUrl)"
while (`$true) { Start-Sleep -Seconds 1 }
"@
        try {
            Wait-Until { $client.Lines -match '^ONLINE ' } -Timeout 60 -Because "the client in the other process is online: $($client.Lines -join ' | ')"
            $url = (($client.Lines -match '^ONLINE ')[0] -split ' ')[1]
            $client.Kill()
        }
        finally { $client.Dispose() }

        { Start-Tunnel -Http $site.Port -Scheme http -Subdomain mine -AuthToken 'other-token-1234' -ErrorAction Stop } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'

        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $script:again = $null
        Wait-Until {
            $script:again = Start-Tunnel -Http $site.Port -Scheme http -Subdomain mine -AuthToken 'owner-token-1234' -ErrorAction Stop
            $true
        } -Timeout 5 -Because 'the same token takes its name back'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $again.PublicUrl | Should -Be $url
        (Invoke-TestRequest $url).Body | Should -Be 'mine again'
    }
}
