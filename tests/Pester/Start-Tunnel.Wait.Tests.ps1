# Start-Tunnel -Wait: the live status screen in a real terminal (pwsh in tmux, read with capture-pane), plain lines
# in a narrow terminal and when the output is redirected, and Ctrl+C that stops the tunnels and gives the terminal
# back as it was. The tunnel server and the local site run in this process; the client runs in the other pwsh.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TmuxTerminal.psm1') -Force
    $null = Import-TunnelPSModule
    $script:hasTmux = Test-TmuxAvailable
    $script:noTmuxReason = 'tmux is not installed, so there is no real terminal to test in (apt-get install -y tmux; .ci/run installs it)'
    $script:hasDegraded = [Enum]::GetNames([TunnelPS.TunnelStatus]) -contains 'Degraded'
    $script:server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    $script:manifest = Get-TunnelPSManifestPath
    $script:captureDir = Join-Path (Get-RepositoryRoot) 'out/TestResults'

    function New-TunnelSetup {
        # The tmux pwsh's setup: the module, and Start-TestTunnel that points Start-Tunnel at this process's server.
        param([int] $LocalPort, [string] $Subdomain)
        @"
Import-Module '$script:manifest'
function global:Start-TestTunnel {
    Start-Tunnel -Http $LocalPort -Subdomain $Subdomain -ServerAddress 'localhost:$($script:server.Port)' -ServerCertificateThumbprint '$($script:server.CertificateThumbprint)' @args
}
"@
    }

    function Save-Capture {
        param([string] $Name, [string] $Text)
        if (Test-Path -LiteralPath $script:captureDir) {
            Set-Content -LiteralPath (Join-Path $script:captureDir $Name) -Value $Text -Encoding utf8NoBOM
        }
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel -ErrorAction SilentlyContinue
    if ($script:server) { $script:server | Stop-TunnelServer -ErrorAction SilentlyContinue }
    Remove-Module TunnelPS -Force -ErrorAction Ignore
}

Describe 'Start-Tunnel -Wait in a real terminal (tmux)' {
    It 'draws the live screen in place, shows requests and local failures, and Ctrl+C stops the tunnels and restores the terminal' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        $site = Start-TestHttpSite -Body 'live'
        $name = 'live' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $terminal = Start-TmuxPwsh -Width 110 -Height 40 -SetupScript (New-TunnelSetup -LocalPort $site.Port -Subdomain $name)
        try {
            Send-TmuxKeys $terminal -Text 'Start-TestTunnel -Wait'
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            $https = "https://$name.localhost:$($script:server.Port)"
            $screen = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+online', "Forwarding\s+$([regex]::Escape($http)) -> localhost:$($site.Port)", "Forwarding\s+$([regex]::Escape($https)) -> localhost:$($site.Port)"
            $screen | Should -Match 'Version\s+\d+\.\d+\.\d+'
            $screen | Should -Match "Server\s+localhost:$($script:server.Port)"
            # The session's web inspector (127.0.0.1:4040, or the next free port when another session has it).
            $screen | Should -Match '(?m)^Web Interface\s+http://127\.0\.0\.1:\d+\s*$'
            (Get-TmuxState $terminal).AlternateScreen | Should -BeTrue
            (Get-TmuxState $terminal).CursorVisible | Should -BeFalse

            (Invoke-TestRequest "$http/orders?page=2").StatusCode | Should -Be 200
            $site.StatusCode = 404
            (Invoke-TestRequest "$http/missing").StatusCode | Should -Be 404
            $site.StatusCode = 500
            (Invoke-TestRequest "$http/broken" -Method POST -Body 'x').StatusCode | Should -Be 500
            $traffic = Wait-TmuxScreen $terminal -Pattern 'GET\s+/orders\?page=2\s+200 OK', 'GET\s+/missing\s+404 Not Found', 'POST\s+/broken\s+500 Internal Server Error', '(?m)^\s+3\s+0\s*$'
            Save-Capture 'live-status-traffic.txt' $traffic
            # Errors are coloured: the 404 yellow, the 500 red (bright: SGR 93 and 91), the 200 green (32).
            $colours = Get-TmuxScreen $terminal -Escapes
            $colours | Should -Match '\e\[32m200 OK'
            $colours | Should -Match '\e\[93m404 Not Found'
            $colours | Should -Match '\e\[91m500 Internal Server Error'

            $site.Dispose()
            (Invoke-TestRequest "$http/after-stop").StatusCode | Should -Be 502
            # The request line says 502 Bad Gateway (its text is the failure's, or the captured exchange's where the
            # client also captures such visitors); Local Failures counts it with the reason.
            $patterns = @('(?m)^\d\d:\d\d:\d\d\.\d{3}\s+\S+\s+.*502 Bad Gateway', 'Local Failures\s+1 \(502 sent\), last at \d\d:\d\d:\d\d: Connection refused')
            if ($script:hasDegraded) { $patterns += 'Session Status\s+degraded' }
            $down = Wait-TmuxScreen $terminal -Pattern $patterns
            Save-Capture 'live-status-local-down.txt' $down

            Send-TmuxKeys $terminal -Key 'C-c'
            $null = Wait-TmuxState $terminal -Condition { param($s) -not $s.AlternateScreen -and $s.CursorVisible }
            Wait-Until { $script:server.SessionCount -eq 0 } -Timeout 20 -Because 'Ctrl+C stops the tunnel (its session leaves the server)'
            Send-TmuxKeys $terminal -Text '"tunnels=" + @(Get-Tunnel).Count'
            $after = Wait-TmuxScreen $terminal -Pattern '(?m)^tunnels=0\s*$', '(?m)^PS-TMUX>\s*$'
            # The normal screen is back as it was: the typed command is there, the status screen is not.
            $after | Should -Match 'PS-TMUX> Start-TestTunnel -Wait'
            $after | Should -Not -Match 'Session Status'
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }

    It 'writes plain lines in a terminal narrower than 60 columns, and Ctrl+C still stops the tunnels' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        $site = Start-TestHttpSite -Body 'narrow'
        $name = 'narrow' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $terminal = Start-TmuxPwsh -Width 50 -Height 30 -SetupScript (New-TunnelSetup -LocalPort $site.Port -Subdomain $name)
        try {
            Send-TmuxKeys $terminal -Text 'Start-TestTunnel -Wait'
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            $null = Wait-TmuxScreen $terminal -Join -Pattern "Forwarding $([regex]::Escape($http)) -> localhost:$($site.Port)", 'session online'
            (Invoke-TestRequest "$http/narrow").StatusCode | Should -Be 200
            $null = Wait-TmuxScreen $terminal -Join -Pattern '\d\d:\d\d:\d\d\.\d{3} GET /narrow 200 OK \d+\.\dms'
            (Get-TmuxState $terminal).AlternateScreen | Should -BeFalse
            $site.Dispose()
            (Invoke-TestRequest "$http/narrow-down").StatusCode | Should -Be 502
            $null = Wait-TmuxScreen $terminal -Join -Pattern '\d\d:\d\d:\d\d\.\d{3} 502 Bad Gateway: local service localhost:\d+ did not answer'

            Send-TmuxKeys $terminal -Key 'C-c'
            Wait-Until { $script:server.SessionCount -eq 0 } -Timeout 20 -Because 'Ctrl+C stops the tunnel'
            Send-TmuxKeys $terminal -Text '"tunnels=" + @(Get-Tunnel).Count'
            $screen = Wait-TmuxScreen $terminal -Join -Pattern '(?m)(^|\s)tunnels=0\s*$'
            ([regex]::Matches($screen, '502 Bad Gateway: local service')).Count | Should -Be 1 -Because 'one visitor is one line'
            (Get-TmuxState $terminal).CursorVisible | Should -BeTrue
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }
}

Describe 'Start-Tunnel -Wait started again (tmux)' {
    It 'keeps the captures of the first run: Ctrl+C, the same Start-Tunnel -Wait again, and Get-TunnelRequest lists both runs' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        $site = Start-TestHttpSite -Body 'again'
        $name = 'again' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $terminal = Start-TmuxPwsh -Width 50 -Height 30 -SetupScript (New-TunnelSetup -LocalPort $site.Port -Subdomain $name)
        try {
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            foreach ($run in 1, 2) {
                Send-TmuxKeys $terminal -Text 'Start-TestTunnel -Wait'
                # Until the tunnel is registered the server answers 404 itself (nothing reaches the client to capture).
                Wait-Until { (Invoke-TestRequest "$http/run/$run").StatusCode -eq 200 } -Timeout 30 -Because "run $run serves"
                Send-TmuxKeys $terminal -Key 'C-c'
                Wait-Until { $script:server.SessionCount -eq 0 } -Timeout 20 -Because "Ctrl+C stops run $run"
            }

            Send-TmuxKeys $terminal -Text 'Clear-Host; "paths=" + ((Get-TunnelRequest).Path -join ",")'
            $screen = Wait-TmuxScreen $terminal -Join -Pattern '(?m)(^|\s)paths=\S*\s*$'
            $screen | Should -Match '(?m)(^|\s)paths=/run/1,/run/2\s*$' -Because 'the second run must not delete the captures of the first'
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }
}

Describe 'Start-Tunnel -Wait stopped with Ctrl+C after the tunnel recovered (tmux)' {
    It 'writes no stale Degraded warning after Ctrl+C, and a new prompt follows' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        if (-not $script:hasDegraded) { Set-ItResult -Skipped -Because 'this build has no Degraded status'; return }
        $site = Start-TestHttpSite -Body 'back'
        $port = $site.Port
        $name = 'stale' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $terminal = Start-TmuxPwsh -Width 110 -Height 40 -SetupScript (New-TunnelSetup -LocalPort $port -Subdomain $name)
        try {
            Send-TmuxKeys $terminal -Text 'Start-TestTunnel -Wait'
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            $null = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+online'
            $site.Dispose()
            (Invoke-TestRequest "$http/down").StatusCode | Should -Be 502
            $null = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+degraded'
            # The local service is back on the same port: the next request succeeds and the tunnel is Online again.
            $site = Start-TestHttpSite -Body 'back' -Port $port
            (Invoke-TestRequest "$http/up").StatusCode | Should -Be 200
            $null = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+online', 'GET\s+/up\s+200 OK'

            Send-TmuxKeys $terminal -Key 'C-c'
            $null = Wait-TmuxState $terminal -Condition { param($s) -not $s.AlternateScreen -and $s.CursorVisible }
            Wait-Until { $script:server.SessionCount -eq 0 } -Timeout 20 -Because 'Ctrl+C stops the tunnel'
            Send-TmuxKeys $terminal -Text '"after=" + @(Get-Tunnel).Count'
            $after = Wait-TmuxScreen $terminal -Pattern '(?m)^after=0\s*$', '(?m)^PS-TMUX>\s*$'
            Save-Capture 'wait-ctrl-c-after-recovery.txt' $after
            $after | Should -Not -Match 'WARNING: Tunnel' -Because 'the Degraded change was over (the tunnel recovered, then the user stopped it)'
            # Each command got its own prompt line: the warning did not land on the prompt the command ended with.
            $after | Should -Match '(?m)^PS-TMUX> "after=" \+ @\(Get-Tunnel\)\.Count\s*$'
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }
}

Describe 'Start-Tunnel -Wait with redirected output' {
    It 'writes one plain line per request and per status change, without escape codes' {
        $site = Start-TestHttpSite -Body 'plain'
        $name = 'plain' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $own = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
        $script = @"
Import-Module '$script:manifest'
Start-Tunnel -Http $($site.Port) -Subdomain $name -ServerAddress 'localhost:$($own.Port)' -ServerCertificateThumbprint '$($own.CertificateThumbprint)' -Wait -WarningAction SilentlyContinue
"@
        $process = Start-BackgroundPwsh -Script $script
        try {
            $http = "http://$name.localhost:$($own.HttpPort)"
            Wait-Until { $process.Lines -match "^Forwarding $([regex]::Escape($http)) -> localhost:$($site.Port)$" } -Timeout 60 -Because 'the opening lines'
            (Invoke-TestRequest "$http/plain/one").StatusCode | Should -Be 200
            $site.Dispose()
            (Invoke-TestRequest "$http/plain/two").StatusCode | Should -Be 502
            Wait-Until { $process.Lines -match ": local service localhost:$($site.Port) did not answer" } -Timeout 20 -Because 'the failure line'
            $own | Stop-TunnelServer
            Wait-Until { $process.Lines -match '^\d\d:\d\d:\d\d\.\d{3} session (reconnecting|failed)' } -Timeout 20 -Because 'the status change line'

            $lines = @($process.Lines)
            ($lines -join "`n") | Should -Match '(?m)^TunnelPS \d+\.\d+\.\d+: session online; server localhost:\d+$'
            @($lines -match '^\d\d:\d\d:\d\d\.\d{3} GET /plain/one 200 OK \d+\.\dms$').Count | Should -Be 1
            @($lines -match '^\d\d:\d\d:\d\d\.\d{3} 502 Bad Gateway: local service').Count | Should -Be 1
            @($lines -match '\e').Count | Should -Be 0 -Because 'redirected output gets no escape codes'
        }
        finally {
            $process.Dispose()
            $site.Dispose()
            $own | Stop-TunnelServer -ErrorAction SilentlyContinue
        }
    }
}
