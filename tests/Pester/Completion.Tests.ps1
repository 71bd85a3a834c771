# Argument completion through the real module and TabExpansion2 (issue 17 item 11): request ids, methods and
# statuses from the captures; only tunnels that hold HTTP requests for the *-TunnelRequest cmdlets and
# Invoke-TunnelReplay; Start-Tunnel's -Http/-Tcp (listening ports), -ServerAddress and -InspectAddress; and
# Set-TunnelAuthToken -Vault (the SecretManagement stand-in in tests/Pester/TestModules: the real module and
# SecretStore are not served by the NuGet feed here, so no real vault can be registered).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    function Complete([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }

    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-completion-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
    $script:SavedModulePath = $env:PSModulePath
    $script:SavedConfig = $env:TUNNELPS_CONFIG
    $env:TUNNELPS_CONFIG = Join-Path $script:Dir 'none.yml'

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite
    $echo = Start-TestTcpEchoServer
    $live = Start-Tunnel -Http $site.Port -Scheme http -Name 'cmp-live'
    $gone = Start-Tunnel -Http $site.Port -Scheme http -Name 'cmp-gone'
    $tcp = Start-Tunnel -Tcp $echo.Port -Name 'cmp-tcp'

    $null = Invoke-TestRequest "$($live.PublicUrl)/first?a=1"
    $null = Invoke-TestRequest "$($live.PublicUrl)/items" -Method POST -Body 'x'
    $site.StatusCode = 500
    $null = Invoke-TestRequest "$($live.PublicUrl)/items" -Method POST -Body 'y'
    $site.StatusCode = 200
    $null = Invoke-TestRequest "$($gone.PublicUrl)/gone" -Method PUT -Body 'z'
    Wait-Until { @(Get-TunnelRequest -Tunnel 'cmp-*').Count -ge 4 } -Because 'the four requests are captured'
    $gone | Stop-Tunnel
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
    $echo.Stop()
    Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
    $env:PSModulePath = $script:SavedModulePath
    $env:TUNNELPS_CONFIG = $script:SavedConfig
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Completion of the captured requests' {
    It 'completes Get-TunnelRequest -Id newest first, with method, target and status as tooltip' {
        $held = @(Get-TunnelRequest -Tunnel 'cmp-live')
        $found = Complete 'Get-TunnelRequest -Tunnel cmp-live -Id '

        $found.CompletionText | Should -Be @($held[2].Id, $held[1].Id, $held[0].Id | ForEach-Object { "$_" })
        $found.ToolTip | Should -Be @('POST /items → 500', 'POST /items → 200', 'GET /first?a=1 → 200')
        $found[0].ResultType | Should -Be 'ParameterValue'
    }

    It 'completes -Method with the methods seen first, most frequent first, then the standard ones' {
        $found = Complete 'Get-TunnelRequest -Method '

        $found.CompletionText[0..2] | Should -Be @('POST', 'GET', 'PUT')
        $found[0].ToolTip | Should -Be 'POST: 2 captured requests'
        $found[1].ToolTip | Should -Be 'GET: 1 captured request'
        $found.CompletionText | Should -Contain 'DELETE'
        ($found | Where-Object CompletionText -EQ 'DELETE').ToolTip | Should -Be 'DELETE: none captured'
        @($found.CompletionText | Select-Object -Unique) | Should -HaveCount $found.Count

        (Complete 'Get-TunnelRequest -Tunnel cmp-gone -Method ').CompletionText[0] | Should -Be 'PUT'
        (Complete 'Wait-TunnelRequest -Method p').CompletionText | Should -Be @('POST', 'PUT', 'PATCH')
    }

    It 'completes -Status with the statuses seen, in order, with counts' {
        $found = Complete 'Get-TunnelRequest -Status '

        $found.CompletionText | Should -Be @('200', '500')
        $found[0].ToolTip | Should -Be '200 OK: 3 captured requests'
        $found[1].ToolTip | Should -Match '^500 [A-Za-z ]+: 1 captured request$'
        (Complete 'Get-TunnelRequest -Status 5').CompletionText | Should -Be @('500')
        (Complete 'Wait-TunnelRequest -Tunnel cmp-gone -Status ').CompletionText | Should -Be @('200')
    }
}

Describe 'Completion of -Tunnel for the HTTP request cmdlets' {
    It '<Line> offers the http tunnels, the stopped one with captures included, and never the tcp tunnel' -ForEach @(
        @{ Line = 'Get-TunnelRequest -Tunnel cmp-' }
        @{ Line = 'Clear-TunnelRequest -Tunnel cmp-' }
        @{ Line = 'Wait-TunnelRequest -Tunnel cmp-' }
        @{ Line = 'Invoke-TunnelReplay -Id 1 -Tunnel cmp-' }
    ) {
        $found = Complete $Line

        $found.CompletionText | Should -Be @('cmp-live', 'cmp-gone')
        $found.CompletionText | Should -Not -Contain 'cmp-tcp'
        $found[1].ToolTip | Should -BeLike 'cmp-gone: captured requests of *'
    }

    It 'still offers the tcp tunnel to Get-Tunnel and Stop-Tunnel' {
        (Complete 'Stop-Tunnel -Name cmp-').CompletionText | Should -Contain 'cmp-tcp'
    }
}

Describe 'Completion of Start-Tunnel' {
    It 'completes -Http and -Tcp with the listening ports, sorted, each with where it listens' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $port = $listener.LocalEndpoint.Port
            $found = Complete 'Start-Tunnel -Http '

            # A service bound to one non-loopback address would come as address:port, in the same port order.
            $ports = @($found.CompletionText | ForEach-Object { [int]($_ -replace '^.*:', '') })
            $ports | Should -Contain $port
            $ports | Should -Be @($ports | Sort-Object)
            ($found | Where-Object CompletionText -EQ "$port").ToolTip | Should -Be "listening on 127.0.0.1:$port"
            ($found | Where-Object CompletionText -EQ "$($server.Port)").ToolTip | Should -BeLike "this session's tunnel server *"

            (Complete "Start-Tunnel -Http $port").CompletionText | Should -Contain "$port"
            (Complete "Start-Tunnel -Http localhost:$port").CompletionText | Should -Be @("localhost:$port")
            (Complete "Start-Tunnel -Tcp $port").CompletionText | Should -Contain "$port"
        }
        finally { $listener.Stop() }

        @(Complete "Start-Tunnel -Http $port" | ForEach-Object CompletionText) | Should -Not -Contain "$port"
    }

    It 'completes -ServerAddress with the session''s servers and the server_addr of the config file' {
        (Complete 'Start-Tunnel -Http 3000 -ServerAddress ').CompletionText | Should -Be @($server.ServerAddress)

        $config = Join-Path $script:Dir 'agent.yml'
        Set-Content -LiteralPath $config -Value 'server_addr: "tunnel.example.test:4443"'
        $found = Complete "Start-Tunnel -ConfigPath '$config' -Name web -ServerAddress "
        $found.CompletionText | Should -Be @($server.ServerAddress, 'tunnel.example.test:4443')
        $found[1].ToolTip | Should -Be "tunnel.example.test:4443: server_addr of $config"
        (Complete "Start-Tunnel -ConfigPath '$config' -Name web -ServerAddress tunnel").CompletionText | Should -Be @('tunnel.example.test:4443')

        # A relative -ConfigPath is taken from the PowerShell location, as Start-Tunnel does.
        Push-Location -LiteralPath $script:Dir
        try {
            (Complete "Start-Tunnel -ConfigPath agent.yml -Name web -ServerAddress tun").CompletionText | Should -Be @('tunnel.example.test:4443')
        }
        finally { Pop-Location }

        # Without -ConfigPath (and with -Http), the file Start-Tunnel reads: $env:TUNNELPS_CONFIG here.
        $env:TUNNELPS_CONFIG = $config
        try {
            (Complete 'Start-Tunnel -Http 3000 -ServerAddress tun').CompletionText | Should -Be @('tunnel.example.test:4443')
        }
        finally { $env:TUNNELPS_CONFIG = Join-Path $script:Dir 'none.yml' }

        Set-Content -LiteralPath $config -Value 'server_addr: [ not valid'
        (Complete "Start-Tunnel -ConfigPath '$config' -Name web -ServerAddress ").CompletionText | Should -Be @($server.ServerAddress)
    }

    It 'completes -InspectAddress with the running inspector, then free ports from 4040, then disabled' {
        $running = ([uri]$live.InspectUrl).Authority
        $found = Complete 'Start-Tunnel -Http 3000 -InspectAddress '

        $found[0].CompletionText | Should -Be $running
        $found[0].ToolTip | Should -BeLike "*this session's web inspector*"
        $found[-1].CompletionText | Should -Be 'disabled'
        $free = @($found.CompletionText | Select-Object -Skip 1 | Select-Object -SkipLast 1)
        $free | Should -HaveCount 3
        $listening = [System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().GetActiveTcpListeners().Port
        foreach ($address in $free) {
            $address | Should -Match '^127\.0\.0\.1:\d+$'
            $port = [int]($address -split ':')[1]
            $port | Should -BeGreaterOrEqual 4040
            $listening | Should -Not -Contain $port
        }
        (Complete 'Start-Tunnel -Http 3000 -InspectAddress dis').CompletionText | Should -Be @('disabled')
    }
}

Describe 'Completion of Set-TunnelAuthToken -Vault' {
    It 'offers the registered vaults, the default first' {
        $env:PSModulePath = (Join-Path $PSScriptRoot 'TestModules') + [IO.Path]::PathSeparator + $script:SavedModulePath
        try {
            $found = Complete 'Set-TunnelAuthToken x -Vault '
            $found.CompletionText | Should -Be @('TestVault', 'OtherVault')
            $found[0].ToolTip | Should -Be 'TestVault: the default vault, TestVaultExtension vault'
            (Complete 'Set-TunnelAuthToken x -Vault oth').CompletionText | Should -Be @('OtherVault')
        }
        finally {
            Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
            $env:PSModulePath = $script:SavedModulePath
        }
    }

    It 'offers nothing, without an error, when SecretManagement is not installed' {
        if (Get-Command Get-SecretVault -ErrorAction Ignore) {
            Set-ItResult -Skipped -Because 'Microsoft.PowerShell.SecretManagement is installed on this machine'
            return
        }
        $Error.Clear()

        Complete 'Set-TunnelAuthToken x -Vault ' | Should -BeNullOrEmpty
        $Error | Should -HaveCount 0
    }
}
