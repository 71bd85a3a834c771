# Show-TunnelStatus: the live status of tunnels already running in the session. In a real terminal (pwsh in tmux)
# Ctrl+C closes the view and leaves the tunnels running; with redirected output it writes plain lines and returns when
# the tunnels stop. The tunnel server and the local site run in this process.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TmuxTerminal.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel -ErrorAction SilentlyContinue
    $script:hasTmux = Test-TmuxAvailable
    $script:noTmuxReason = 'tmux is not installed, so there is no real terminal to test in (apt-get install -y tmux; .ci/run installs it)'
    $script:server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    $script:manifest = Get-TunnelPSManifestPath
    $script:errorIdSuffix = ',TunnelPS.Commands.ShowTunnelStatusCommand'

    # Another module's Spectre.Console in the default load context: the screen must keep using its own copy.
    $script:impostorDir = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-spectre-' + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:impostorDir
    # An assembly named Spectre.Console, version 0.1 (PersistedAssemblyBuilder: .NET 9 and later, which PowerShell 7.5+ runs on).
    $builder = [System.Reflection.Emit.PersistedAssemblyBuilder]::new([System.Reflection.AssemblyName]::new('Spectre.Console, Version=0.1.0.0'), [object].Assembly)
    $null = $builder.DefineDynamicModule('Spectre.Console').DefineType('Spectre.Console.Impostor', 'Public, Sealed, Abstract').CreateType()
    $builder.Save((Join-Path $script:impostorDir 'Spectre.Console.dll'))
}

AfterAll {
    Get-Tunnel | Stop-Tunnel -ErrorAction SilentlyContinue
    if ($script:server) { $script:server | Stop-TunnelServer -ErrorAction SilentlyContinue }
    Remove-Item -LiteralPath $script:impostorDir -Recurse -Force -ErrorAction Ignore
    Remove-Module TunnelPS -Force -ErrorAction Ignore
}

Describe 'Show-TunnelStatus in a real terminal (tmux)' {
    It 'shows the running tunnels and their requests, follows a resize; Ctrl+C closes the view, restores the terminal and leaves the tunnels running' {
        if (-not $script:hasTmux) { Set-ItResult -Skipped -Because $script:noTmuxReason; return }
        $site = Start-TestHttpSite -Body 'shown'
        $name = 'shown' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $setup = @"
`$impostor = [System.Reflection.Assembly]::LoadFrom('$(Join-Path $script:impostorDir 'Spectre.Console.dll')')
Import-Module '$script:manifest'
`$null = Start-Tunnel -Http $($site.Port) -Subdomain $name -ServerAddress 'localhost:$($script:server.Port)' -ServerCertificateThumbprint '$($script:server.CertificateThumbprint)' -InspectAddress disabled
"@
        $terminal = Start-TmuxPwsh -Width 100 -Height 32 -SetupScript $setup
        try {
            Send-TmuxKeys $terminal -Text 'Show-TunnelStatus'
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            $null = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+online', "Forwarding\s+$([regex]::Escape($http)) -> ", '\(Ctrl\+C to close; tunnels keep running\)'
            (Invoke-TestRequest "$http/shown?id=7").StatusCode | Should -Be 200
            $screen = Wait-TmuxScreen $terminal -Pattern 'GET\s+/shown\?id=7\s+200 OK'
            $screen | Should -Not -Match 'Web Interface' -Because 'the tunnel has no inspector (-InspectAddress disabled)'
            (Get-TmuxState $terminal).AlternateScreen | Should -BeTrue

            # Resized below 60 columns, the screen says so; widened again, it is whole again.
            Set-TmuxSize $terminal -Width 40 -Height 32
            $null = Wait-TmuxScreen $terminal -Pattern 'Widen the window to 60 columns', 'TunnelPS: session online'
            Set-TmuxSize $terminal -Width 100 -Height 32
            $null = Wait-TmuxScreen $terminal -Pattern 'GET\s+/shown\?id=7\s+200 OK', 'Session Status\s+online'

            Send-TmuxKeys $terminal -Key 'C-c'
            $null = Wait-TmuxState $terminal -Condition { param($s) -not $s.AlternateScreen -and $s.CursorVisible }
            Send-TmuxKeys $terminal -Text '"tunnels=" + @(Get-Tunnel | Where-Object Status -eq Online).Count + "; spectre=" + $impostor.GetName().Version + " in " + [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($impostor).Name'
            $null = Wait-TmuxScreen $terminal -Pattern '(?m)^tunnels=2; spectre=0\.1\.0\.0 in Default\s*$'
            $script:server.SessionCount | Should -Be 1 -Because 'closing the view does not stop the tunnels'
            (Invoke-TestRequest "$http/still-there").StatusCode | Should -Be 200
        }
        finally {
            Stop-TmuxPwsh $terminal
            $site.Dispose()
        }
    }
}

Describe 'Show-TunnelStatus with redirected output' {
    It 'writes plain lines and returns when the tunnels it shows stop' {
        $site = Start-TestHttpSite -Body 'plain'
        $name = 'plainshow' + [guid]::NewGuid().ToString('n').Substring(0, 6)
        $trigger = Join-Path ([System.IO.Path]::GetTempPath()) "tunnelps-stop-$name"
        $script = @"
Import-Module '$script:manifest'
`$null = Start-Tunnel -Http $($site.Port) -Subdomain $name -ServerAddress 'localhost:$($script:server.Port)' -ServerCertificateThumbprint '$($script:server.CertificateThumbprint)'
# Stops the tunnels from another thread of this process once the test says so (the registry is process-wide).
`$stopper = Start-ThreadJob {
    `$clock = [System.Diagnostics.Stopwatch]::StartNew()
    while (-not (Test-Path -LiteralPath '$trigger') -and `$clock.Elapsed.TotalSeconds -lt 60) { Start-Sleep -Milliseconds 50 }
    Import-Module '$script:manifest'
    Get-Tunnel | Stop-Tunnel
}
Show-TunnelStatus
'SHOW-RETURNED'
"@
        $process = Start-BackgroundPwsh -Script $script
        try {
            $http = "http://$name.localhost:$($script:server.HttpPort)"
            Wait-Until { $process.Lines -match "^Forwarding $([regex]::Escape($http)) -> " } -Timeout 60 -Because 'the opening lines'
            (Invoke-TestRequest "$http/plain/show").StatusCode | Should -Be 200
            Wait-Until { $process.Lines -match ' GET /plain/show 200 OK ' } -Timeout 20 -Because 'the request line'
            Set-Content -LiteralPath $trigger -Value 'stop'
            Wait-Until { $process.HasExited } -Timeout 30 -Because 'Show-TunnelStatus returns once the tunnels stop'
            $process.Process.ExitCode | Should -Be 0
            $lines = @($process.Lines)
            @($lines -match '^\d\d:\d\d:\d\d\.\d{3} session stopped$').Count | Should -Be 1
            $lines[-1] | Should -Be 'SHOW-RETURNED'
            @($lines -match '\e').Count | Should -Be 0
        }
        finally {
            $process.Dispose()
            $site.Dispose()
            Remove-Item -LiteralPath $trigger -ErrorAction Ignore
        }
    }
}

Describe 'Show-TunnelStatus errors' {
    It 'says there is nothing to show when no tunnel runs in the session' {
        Get-Tunnel | Stop-Tunnel
        { Show-TunnelStatus -ErrorAction Stop } | Should -Throw -ErrorId "TunnelNotFound$script:errorIdSuffix" -ExpectedMessage '*No tunnel runs in this session*Start-Tunnel*'
    }

    It 'writes TunnelNotFound for a name that matches no tunnel, and returns' {
        $null = Show-TunnelStatus -Name 'no-such-tunnel' -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be "TunnelNotFound$script:errorIdSuffix"
        $failures[0].TargetObject | Should -Be 'no-such-tunnel'
    }

    It 'writes TunnelNotFound for a stopped tunnel given on the pipeline, and returns' {
        $site = Start-TestHttpSite
        try {
            $tunnels = Start-Tunnel -Http $site.Port -ServerAddress "localhost:$($script:server.Port)" -ServerCertificateThumbprint $script:server.CertificateThumbprint
            $tunnels | Stop-Tunnel
            $null = $tunnels | Show-TunnelStatus -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures.Count | Should -Be 2
            $failures[0].FullyQualifiedErrorId | Should -Be "TunnelNotFound$script:errorIdSuffix"
            $failures[0].Exception.Message | Should -BeLike '*has stopped: there is no live status to show*'
        }
        finally {
            $site.Dispose()
        }
    }
}
