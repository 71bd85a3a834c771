# Start-Tunnel through a REAL HTTP CONNECT proxy (tinyproxy, installed by .ci/run; each test run starts
# its own instances with tests/TestSupport/start-tinyproxy.sh): -Proxy, http_proxy in the config file,
# the environment (HTTPS_PROXY with NO_PROXY), and wrong proxy credentials.

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
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-proxy-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir

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

    function Get-ConnectCount([object] $Proxy, [int] $ServerPort) {
        # How many CONNECTs to the tunnel server the proxy has logged.
        @(Get-Content -LiteralPath $Proxy.Log | Where-Object { $_ -match "CONNECT (localhost|127\.0\.0\.1):$ServerPort " }).Count
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    foreach ($p in $script:Proxies) {
        Stop-Process -Id $p.Pid -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $p.Dir -Recurse -Force -ErrorAction SilentlyContinue
    }
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-Tunnel through tinyproxy' -Skip:$script:NoTinyproxy {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'through the proxy'
        $open = Start-TestProxy
        $locked = Start-TestProxy -Arguments '--user', 'tunnelps', '--password', 'right-pass'
        $config = Join-Path $script:Dir 'proxy.yml'
        Set-Content -LiteralPath $config -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
http_proxy: "http://127.0.0.1:$($open.Port)"
tunnels:
  web: { proto: { http: $($site.Port) } }
"@
        $noProxyConfig = Join-Path $script:Dir 'direct.yml'
        Set-Content -LiteralPath $noProxyConfig -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
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

    It 'http_proxy in the config: control and proxy connections are CONNECTs in the proxy log, requests arrive' {
        $before = (Get-ConnectCount $open $server.Port)
        $tunnel = Start-Tunnel -Name web -ConfigPath $config

        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'through the proxy'
        (Invoke-TestRequest "$($tunnel.PublicUrl)/again").Body | Should -Be 'through the proxy'
        # One control connection plus at least one pooled proxy connection, all through the proxy.
        Wait-Until { (Get-ConnectCount $open $server.Port) - $before -ge 2 } -Timeout 10 -Because 'tinyproxy logs the CONNECTs'
    }

    It '-Proxy with a -ProxyCredential works against a proxy that requires BasicAuth' {
        $credential = [pscredential]::new('tunnelps', (ConvertTo-SecureString 'right-pass' -AsPlainText -Force))
        $tunnel = Start-Tunnel -Name web -ConfigPath $noProxyConfig -Proxy "http://127.0.0.1:$($locked.Port)" -ProxyCredential $credential

        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'through the proxy'
        Wait-Until { (Get-ConnectCount $locked $server.Port) -ge 2 } -Timeout 10 -Because 'tinyproxy logs the CONNECTs'
    }

    It 'wrong proxy credentials give ProxyAuthenticationRequired, naming the proxy' {
        $credential = [pscredential]::new('tunnelps', (ConvertTo-SecureString 'wrong-pass' -AsPlainText -Force))
        $err = { Start-Tunnel -Name web -ConfigPath $noProxyConfig -Proxy "http://127.0.0.1:$($locked.Port)" -ProxyCredential $credential -ErrorAction Stop } |
            Should -Throw -ErrorId 'ProxyAuthenticationRequired,TunnelPS.Commands.StartTunnelCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $err.Exception.Message | Should -BeLike "*127.0.0.1:$($locked.Port)*"
        $err.Exception.Message | Should -Not -BeLike '*wrong-pass*'
        Get-Tunnel | Should -BeNullOrEmpty
    }

    It 'no credentials at all: ProxyAuthenticationRequired too' {
        { Start-Tunnel -Name web -ConfigPath $noProxyConfig -Proxy "http://127.0.0.1:$($locked.Port)" -ErrorAction Stop } |
            Should -Throw -ErrorId 'ProxyAuthenticationRequired,TunnelPS.Commands.StartTunnelCommand'
    }

    It 'an -Http tunnel with wrong proxy credentials gets the same ProxyAuthenticationRequired error' {
        $credential = [pscredential]::new('tunnelps', (ConvertTo-SecureString 'wrong-pass' -AsPlainText -Force))
        { Start-Tunnel -Http 3000 -Proxy "http://127.0.0.1:$($locked.Port)" -ProxyCredential $credential -ErrorAction Stop } |
            Should -Throw -ErrorId 'ProxyAuthenticationRequired,TunnelPS.Commands.StartTunnelCommand'
    }

    It 'the environment (HTTPS_PROXY) is used when neither -Proxy nor http_proxy is set, and NO_PROXY bypasses it' {
        $saved = $env:HTTPS_PROXY, $env:NO_PROXY
        try {
            $env:HTTPS_PROXY = "http://127.0.0.1:$($open.Port)"
            $env:NO_PROXY = ''
            $before = (Get-ConnectCount $open $server.Port)
            $tunnel = Start-Tunnel -Name web -ConfigPath $noProxyConfig
            (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'through the proxy'
            Wait-Until { (Get-ConnectCount $open $server.Port) - $before -ge 2 } -Timeout 10 -Because 'the environment proxy is used'
            $tunnel | Stop-Tunnel

            $env:NO_PROXY = 'localhost'
            # Stop-Tunnel waits for the client's connections to end; the server seeing no session confirms it,
            # so no CONNECT of the first tunnel can land after this count.
            Wait-Until { $server.SessionCount -eq 0 } -Timeout 10 -Because 'the first tunnel is gone'
            $before = (Get-ConnectCount $open $server.Port)
            $tunnel = Start-Tunnel -Name web -ConfigPath $noProxyConfig
            (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'through the proxy'
            # The request went through the control and a proxy connection: had they used the proxy, their CONNECTs
            # would already be logged.
            (Get-ConnectCount $open $server.Port) | Should -Be $before
        }
        finally {
            $env:HTTPS_PROXY, $env:NO_PROXY = $saved
        }
    }
}

Describe 'A proxy error says where the proxy setting came from' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $closed = Get-FreeTcpPort
        $direct = Join-Path $script:Dir 'direct-source.yml'
        Set-Content -LiteralPath $direct -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
tunnels:
  web: { proto: { http: 3000 } }
"@
        $proxied = Join-Path $script:Dir 'proxied-source.yml'
        Set-Content -LiteralPath $proxied -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
http_proxy: "http://127.0.0.1:$closed"
tunnels:
  web: { proto: { http: 3000 } }
"@
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        $server | Stop-TunnelServer
    }

    It 'names <Source> when the proxy cannot be reached' -ForEach @(
        @{ Source = '-Proxy'; Expected = 'The proxy setting comes from -Proxy.' }
        @{ Source = 'http_proxy of the config file'; Expected = 'The proxy setting comes from http_proxy in {0}.' }
        @{ Source = 'the environment'; Expected = 'The proxy setting comes from the environment variable HTTPS_PROXY.' }
    ) {
        $saved = $env:HTTPS_PROXY, $env:NO_PROXY
        try {
            $env:NO_PROXY = ''
            $env:HTTPS_PROXY = if ($Source -eq 'the environment') { "http://127.0.0.1:$closed" } else { '' }
            $options = switch ($Source) {
                '-Proxy' { @{ ConfigPath = $direct; Proxy = "http://127.0.0.1:$closed" } }
                'http_proxy of the config file' { @{ ConfigPath = $proxied } }
                default { @{ ConfigPath = $direct } }
            }

            $err = { Start-Tunnel -Name web @options -ErrorAction Stop } | Should -Throw -PassThru

            $err.Exception.Message | Should -BeLike "*The proxy http://127.0.0.1:$closed cannot be reached*"
            $err.Exception.Message | Should -BeLike ('*' + [WildcardPattern]::Escape(($Expected -f $proxied)) + '*')
            Get-Tunnel | Should -BeNullOrEmpty
        }
        finally {
            $env:HTTPS_PROXY, $env:NO_PROXY = $saved
        }
    }
}
