# Test-TunnelConnectivity through the built module: a real server of this session (every step passes, the Tls step
# says pinned), a dead port, a wrong pin, a wrong and a saved token, two server addresses (one dead), -Quiet, the
# table view, and a REAL HTTP CONNECT proxy (tinyproxy, started by tests/TestSupport/start-tinyproxy.sh) with and
# without BasicAuth.

BeforeDiscovery {
    $script:NoTinyproxy = -not (Get-Command tinyproxy -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $script:StartProxy = Join-Path (Get-RepositoryRoot) 'tests/TestSupport/start-tinyproxy.sh'
    $script:Proxies = [System.Collections.Generic.List[object]]::new()
    $script:Steps = 'Resolve', 'Connect', 'ProxyConnect', 'Tls', 'Protocol', 'Auth', 'Latency'

    function Start-TestProxy {
        param([string[]] $Arguments = @())
        # A random port can be taken between the script's probe and tinyproxy's bind: try a few times.
        for ($attempt = 1; $attempt -le 3; $attempt++) {
            $lines = @(& bash $script:StartProxy @Arguments 2>&1 | ForEach-Object { "$_" })
            if ($LASTEXITCODE -eq 0) { break }
        }
        if ($LASTEXITCODE -ne 0) { throw "start-tinyproxy.sh failed ($LASTEXITCODE): $($lines -join ' | ')" }
        $info = @{}
        foreach ($line in $lines -match '^[A-Z]+=') { $k, $v = $line -split '=', 2; $info[$k] = $v }
        $proxy = [pscustomobject]@{ Port = [int]$info.PORT; Log = $info.LOG; Pid = [int]$info.PID; Dir = $info.DIR }
        $script:Proxies.Add($proxy)
        $proxy
    }

    function Get-Step([object[]] $Steps, [string] $Name, [string] $Server) {
        $found = @($Steps | Where-Object { $_.Step -eq $Name -and (-not $Server -or $_.Server -eq $Server) })
        $found.Count | Should -Be 1 -Because "one $Name step per server"
        $found[0]
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    foreach ($p in $script:Proxies) {
        Stop-Process -Id $p.Pid -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $p.Dir -Recurse -Force -ErrorAction SilentlyContinue
    }
}

Describe 'Test-TunnelConnectivity against a server of this session' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $address = "localhost:$($server.Port)"
        $dead = Get-FreeTcpPort
    }

    AfterAll {
        $server | Stop-TunnelServer
    }

    It 'writes the seven steps in order, every one Passed but ProxyConnect (no proxy), with no error' {
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -ErrorVariable errors)

        $errors | Should -BeNullOrEmpty
        $steps.Step | Should -Be $script:Steps
        $steps | ForEach-Object { $_ | Should -BeOfType TunnelPS.TunnelConnectivityStep }
        $steps.Server | Select-Object -Unique | Should -Be $address
        ($steps | Where-Object Step -ne ProxyConnect).Status | Select-Object -Unique | Should -Be ([TunnelPS.TunnelConnectivityStatus]::Passed)
        (Get-Step $steps ProxyConnect).Status | Should -Be 'Skipped'
        (Get-Step $steps ProxyConnect).Detail | Should -Be 'no proxy: a direct connection'
        (Get-Step $steps Resolve).Addresses | Should -Contain '127.0.0.1'
        $steps | ForEach-Object { $_.Duration | Should -BeOfType TimeSpan }
    }

    It 'the Tls step shows the certificate, pinned to the session server''s thumbprint' {
        $tls = Get-Step @(Test-TunnelConnectivity -ServerAddress $address) Tls

        $tls.CertificateTrust | Should -Be 'Pinned'
        $tls.CertificateThumbprint | Should -Be $server.CertificateThumbprint
        $tls.Certificate | Should -BeOfType System.Security.Cryptography.X509Certificates.X509Certificate2
        $tls.TlsProtocol | Should -BeLike 'TLS 1.*'
        $tls.Detail | Should -BeLike "TLS 1.*, CN=*, issuer *, expires 2*, pinned*"
    }

    It 'the Protocol, Auth and Latency steps say what the server answered' {
        $steps = @(Test-TunnelConnectivity -ServerAddress $address)

        (Get-Step $steps Protocol).ServerVersion | Should -Be '2'
        (Get-Step $steps Protocol).ServerCapabilities | Should -Contain 'tunnelps/1'
        (Get-Step $steps Protocol).Detail | Should -BeLike '*a TunnelPS server*'
        (Get-Step $steps Auth).Detail | Should -Be 'no token sent: the server allows anonymous logins'
        (Get-Step $steps Latency).LatencyMilliseconds | Should -BeGreaterOrEqual 0
        (Get-Step $steps Latency).Detail | Should -BeLike 'median * ms over 3 round trips*'
    }

    It 'without -ServerAddress it checks the newest server of the session' {
        $steps = @(Test-TunnelConnectivity)

        $steps.Server | Select-Object -Unique | Should -Be $address
        $steps.Status | Should -Not -Contain 'Failed'
    }

    It 'a dead port fails Connect with a hint, skips the rest, and writes no error' {
        $steps = @(Test-TunnelConnectivity -ServerAddress "127.0.0.1:$dead" -ErrorVariable errors)

        $errors | Should -BeNullOrEmpty
        $connect = Get-Step $steps Connect
        $connect.Status | Should -Be 'Failed'
        $connect.Detail | Should -BeLike "connection refused (127.0.0.1:$dead)"
        $connect.Hint | Should -BeLike "Nothing listens on 127.0.0.1:$dead. Check -ServerAddress*"
        foreach ($later in $steps | Select-Object -Skip 2) {
            $later.Status | Should -Be 'Skipped'
            $later.Hint | Should -Be 'Skipped because the Connect step failed; fix that first.'
        }
    }

    It 'a wrong -ServerCertificateThumbprint fails Tls, and the hint gives the actual thumbprint' {
        $wrong = 'ab' * 32
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -ServerCertificateThumbprint $wrong)

        $tls = Get-Step $steps Tls
        $tls.Status | Should -Be 'Failed'
        $tls.CertificateTrust | Should -Be 'None'
        $tls.CertificateThumbprint | Should -Be $server.CertificateThumbprint
        $tls.Detail | Should -BeLike "*does not match the pinned thumbprint $wrong"
        $tls.Hint | Should -BeLike "*-ServerCertificateThumbprint $($server.CertificateThumbprint) *"
        (Get-Step $steps Protocol).Status | Should -Be 'Skipped'
    }

    It 'two -ServerAddress entries, one dead: seven steps for each' {
        $steps = @(Test-TunnelConnectivity -ServerAddress "127.0.0.1:$dead", $address)

        $steps.Count | Should -Be 14
        ($steps | Select-Object -First 7).Server | Select-Object -Unique | Should -Be "127.0.0.1:$dead"
        (Get-Step $steps Connect "127.0.0.1:$dead").Status | Should -Be 'Failed'
        ($steps | Where-Object Server -eq $address).Status | Should -Not -Contain 'Failed'
        ($steps | Where-Object Server -eq $address).Step | Should -Be $script:Steps
    }

    It '-Quiet writes one Boolean per server: $true when no step failed' {
        Test-TunnelConnectivity -ServerAddress $address -Quiet | Should -BeExactly $true
        Test-TunnelConnectivity -ServerAddress "127.0.0.1:$dead" -Quiet | Should -BeExactly $false
        $both = @(Test-TunnelConnectivity -ServerAddress "127.0.0.1:$dead,$address" -Quiet)
        $both | Should -Be @($false, $true)
        $both | ForEach-Object { $_ | Should -BeOfType bool }
    }

    It 'the table view shows Server, Step, Status, the duration in ms and the detail (with the hint when failed)' {
        $text = Test-TunnelConnectivity -ServerAddress "127.0.0.1:$dead" | Format-Table | Out-String -Width 400

        $text | Should -Match 'Server\s+Step\s+Status\s+Duration\(ms\)\s+Detail'
        $text | Should -Match "127\.0\.0\.1:$dead\s+Connect\s+Failed\s+[\d.]+\s+connection refused \(127\.0\.0\.1:$dead\)\. Nothing listens"
    }

    It 'a bad -ServerAddress, -ServerCertificateThumbprint or -Timeout is an InvalidArgument error' {
        { Test-TunnelConnectivity -ServerAddress 'host:99999' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.TestTunnelConnectivityCommand'
        { Test-TunnelConnectivity -ServerAddress $address -ServerCertificateThumbprint 'abc' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.TestTunnelConnectivityCommand'
        { Test-TunnelConnectivity -ServerAddress $address -Timeout 0 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.TestTunnelConnectivityCommand'
    }

    It 'writes each step as it completes: a pipeline that stops early ends the check at once, with no error' {
        # Something that takes the connection and never speaks TLS: with a long -Timeout the Tls step would wait
        # two minutes. Select-Object -First 2 takes Resolve and Connect as they come and stops the command (the
        # way Ctrl+C does); had the steps been written only at the end, nothing would come before the deadline.
        $mute = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $mute.Start()
        try {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $first = @(Test-TunnelConnectivity -ServerAddress "127.0.0.1:$($mute.LocalEndpoint.Port)" -Timeout 120 -ErrorVariable errors |
                    Select-Object -First 2)
            $clock.Stop()

            $first.Step | Should -Be 'Resolve', 'Connect'
            $first.Status | Should -Be 'Passed', 'Passed'
            $errors | Should -BeNullOrEmpty
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 60 -Because 'the Tls step''s 120 s deadline was not waited for'
        }
        finally {
            $mute.Stop()
        }
    }

    It '-Timeout takes seconds and bounds each step' {
        # Something that takes the connection and never speaks TLS: the Tls step fails at its deadline.
        $mute = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $mute.Start()
        try {
            $port = $mute.LocalEndpoint.Port
            $tls = Get-Step @(Test-TunnelConnectivity -ServerAddress "127.0.0.1:$port" -SkipCertificateCheck -Timeout 1) Tls
            $tls.Status | Should -Be 'Failed'
            $tls.Detail | Should -Be 'no handshake within 1 s'
            $tls.Hint | Should -BeLike '*is 127.0.0.1:* a TunnelPS or ngrok server port*'
        }
        finally {
            $mute.Stop()
        }
    }
}

Describe 'Test-TunnelConnectivity and the token' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'right-token'
        $address = "localhost:$($server.Port)"
        $config = Join-Path $TestDrive 'saved.yml'
    }

    AfterAll {
        $server | Stop-TunnelServer
    }

    It 'a wrong token fails Auth with the server''s reason and a hint about Set-TunnelAuthToken' {
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -AuthToken 'wrong-token')

        (Get-Step $steps Protocol).Status | Should -Be 'Passed'
        $auth = Get-Step $steps Auth
        $auth.Status | Should -Be 'Failed'
        $auth.Detail | Should -BeLike 'the server refused the token (from -AuthToken): *auth token was refused*'
        $auth.Detail | Should -Not -BeLike '*wrong-token*'
        $auth.Hint | Should -BeLike '*-AuthToken*Set-TunnelAuthToken*'
        (Get-Step $steps Latency).Status | Should -Be 'Skipped'
    }

    It 'the token saved with Set-TunnelAuthToken is used and named' {
        Set-TunnelAuthToken 'right-token' -ConfigPath $config

        $auth = Get-Step @(Test-TunnelConnectivity -ServerAddress $address -ConfigPath $config) Auth

        $auth.Status | Should -Be 'Passed'
        $auth.Detail | Should -Be "token accepted (from $config)"
    }

    It 'the session server''s own token is used when none is given or saved' {
        $auth = Get-Step @(Test-TunnelConnectivity -ServerAddress $address) Auth

        $auth.Status | Should -Be 'Passed'
        $auth.Detail | Should -Be "token accepted (from this session's server)"
    }
}

Describe 'Test-TunnelConnectivity through tinyproxy' -Skip:$script:NoTinyproxy {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $address = "localhost:$($server.Port)"
        $open = Start-TestProxy
        $locked = Start-TestProxy -Arguments '--user', 'tunnelps', '--password', 'right-pass'
    }

    AfterAll {
        $server | Stop-TunnelServer
    }

    It 'a proxy without auth: Resolve and Connect reach the proxy, ProxyConnect passes with the proxy''s 200' {
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -Proxy "http://127.0.0.1:$($open.Port)")

        $steps.Status | Should -Not -Contain 'Failed'
        (Get-Step $steps Connect).RemoteEndPoint | Should -Be "127.0.0.1:$($open.Port)"
        (Get-Step $steps Connect).ViaProxy | Should -BeTrue
        $proxy = Get-Step $steps ProxyConnect
        $proxy.Status | Should -Be 'Passed'
        $proxy.ProxyStatusCode | Should -Be 200
        $proxy.Detail | Should -BeLike 'HTTP/1.* 200 *, auth: none'
        $proxy.ProxyAuthScheme | Should -BeNullOrEmpty
        (Get-Step $steps Tls).CertificateTrust | Should -Be 'Pinned'
        Get-Content -LiteralPath $open.Log | Where-Object { $_ -match "CONNECT localhost:$($server.Port) " } | Should -Not -BeNullOrEmpty
    }

    It 'a proxy with BasicAuth and no credential: ProxyConnect fails 407, names Basic, hints at -ProxyCredential' {
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -Proxy "http://127.0.0.1:$($locked.Port)")

        $proxy = Get-Step $steps ProxyConnect
        $proxy.Status | Should -Be 'Failed'
        $proxy.ProxyStatusCode | Should -Be 407
        $proxy.ProxyAuthSchemes | Should -Contain 'Basic'
        $proxy.Detail | Should -BeLike 'HTTP/1.* 407 *, offers: Basic, auth: none'
        $proxy.Hint | Should -BeLike 'The proxy wants Basic: give -ProxyCredential*(the proxy setting comes from -Proxy).'
        (Get-Step $steps Tls).Status | Should -Be 'Skipped'
    }

    It 'the same proxy with the right -ProxyCredential: ProxyConnect passes with auth Basic' {
        $credential = [pscredential]::new('tunnelps', (ConvertTo-SecureString 'right-pass' -AsPlainText -Force))
        $steps = @(Test-TunnelConnectivity -ServerAddress $address -Proxy "http://127.0.0.1:$($locked.Port)" -ProxyCredential $credential)

        $steps.Status | Should -Not -Contain 'Failed'
        $proxy = Get-Step $steps ProxyConnect
        $proxy.ProxyAuthScheme | Should -Be 'Basic'
        $proxy.Detail | Should -BeLike 'HTTP/1.* 200 *, auth: Basic'
    }

    It 'wrong proxy credentials: ProxyConnect fails and the hint says to check them' {
        $credential = [pscredential]::new('tunnelps', (ConvertTo-SecureString 'wrong-pass' -AsPlainText -Force))
        $proxy = Get-Step @(Test-TunnelConnectivity -ServerAddress $address -Proxy "http://127.0.0.1:$($locked.Port)" -ProxyCredential $credential) ProxyConnect

        $proxy.Status | Should -Be 'Failed'
        $proxy.ProxyAuthScheme | Should -Be 'Basic'
        $proxy.Hint | Should -BeLike 'The proxy refused the credentials*-ProxyCredential*'
        "$($proxy.Detail) $($proxy.Hint)" | Should -Not -BeLike '*wrong-pass*'
    }
}
