# Start-TunnelServer -Wait in a real terminal (pwsh in tmux, read with capture-pane): without -Verbose or -LogPath it
# shows each login, each refused login with its kind (no token, wrong token, a limit) in words for the server's admin,
# and each tunnel opened and closed, one line each. The clients run in this process.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TmuxTerminal.psm1') -Force
    $null = Import-TunnelPSModule
    $script:hasTmux = Test-TmuxAvailable
    $script:noTmuxReason = 'tmux is not installed, so there is no real terminal to test in (apt-get install -y tmux; .ci/run installs it)'
    $script:manifest = Get-TunnelPSManifestPath
    $script:captureDir = Join-Path (Get-RepositoryRoot) 'out/TestResults'
}

AfterAll {
    Get-Tunnel | Stop-Tunnel -ErrorAction SilentlyContinue
    Remove-Module TunnelPS -Force -ErrorAction Ignore
}

Describe 'Start-TunnelServer -Wait in a real terminal (tmux)' {
    It 'shows logins, refused logins with their kind, and tunnels opened and closed, one line each' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        $site = Start-TestHttpSite -Body 'served'
        $terminal = Start-TmuxPwsh -Width 250 -Height 50 -SetupScript "Import-Module '$script:manifest'"
        try {
            Send-TmuxKeys $terminal -Text "Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'right-token' -Wait"
            $banner = Wait-TmuxScreen $terminal -Join -Pattern 'clients dial (\S+) \(', 'Certificate SHA-256 ([0-9A-Fa-f]{64})'
            $address = [regex]::Match($banner, 'clients dial (\S+) \(').Groups[1].Value
            $thumbprint = [regex]::Match($banner, 'Certificate SHA-256 ([0-9A-Fa-f]{64})').Groups[1].Value
            $target = @{ ServerAddress = $address; ServerCertificateThumbprint = $thumbprint }

            # The client's user is told what to do: give a token, or check the one given (this process has no
            # server of its own whose token Start-Tunnel would use, and its home holds no saved token).
            { Start-Tunnel -Http $site.Port @target } | Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
            $Error[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
            $Error[0].Exception.Message | Should -BeLike '*needs an auth token and none was given*-AuthToken*Set-TunnelAuthToken*'
            { Start-Tunnel -Http $site.Port -AuthToken 'wrong-token' @target } | Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
            $Error[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
            $Error[0].Exception.Message | Should -BeLike '*auth token was refused*Check the token*'
            # More of the same refusal from the same address within 10 s add no line (the next one counts them).
            foreach ($i in 1..4) {
                { Start-Tunnel -Http $site.Port -AuthToken "wrong-token-$i" @target } | Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
            }
            $name = 'served' + [guid]::NewGuid().ToString('n').Substring(0, 6)
            $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Subdomain $name -AuthToken 'right-token' @target
            (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'served'
            $tunnel | Stop-Tunnel

            $url = [regex]::Escape($tunnel.PublicUrl)
            $screen = Wait-TmuxScreen $terminal -Join -Pattern @(
                'Login from 127\.0\.0\.1:\d+ refused \(no token\)',
                'Login from 127\.0\.0\.1:\d+ refused \(wrong token\)',
                'logged in from 127\.0\.0\.1:\d+',
                "Tunnel $url opened",
                "Tunnel $url closed")
            if (Test-Path -LiteralPath $script:captureDir) {
                Set-Content -LiteralPath (Join-Path $script:captureDir 'server-wait-activity.txt') -Value $screen -Encoding utf8NoBOM
            }
            # Written for the server's admin, not for the client's user.
            $screen | Should -Not -Match 'Check the token given with -AuthToken'
            foreach ($p in 'refused \(no token\)', 'refused \(wrong token\)', 'logged in from', "Tunnel $url opened", "Tunnel $url closed") {
                ([regex]::Matches($screen, $p)).Count | Should -Be 1 -Because "one line for '$p'"
            }

            Send-TmuxKeys $terminal -Key 'C-c'
            $null = Wait-TmuxScreen $terminal -Pattern '(?m)^PS-TMUX>\s*$'
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }
}
