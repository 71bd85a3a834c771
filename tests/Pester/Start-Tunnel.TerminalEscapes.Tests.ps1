# A tunnel server that puts terminal escape sequences in what it sends (ESC]0;title BEL sets the window title, ESC[2J
# clears the screen, CR LF and "PS C:\> " fake a prompt): Start-Tunnel's output, Get-Tunnel | Format-List * and the
# error record show them as visible text and never write one to the terminal. Formatted as on an interactive terminal
# ($PSStyle.OutputRendering Ansi, where PowerShell strips nothing): PowerShell's own colours (SGR) are the only escape
# sequences allowed in the text.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TmuxTerminal.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel

    if (-not ('TunnelPS.Tests.HostileTunnelServer' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'Fixtures/HostileTunnelServer.cs')
    }

    # ESC ] 0 ; title BEL (window title), ESC [ 2 J (clear screen), CR LF and a fake prompt.
    $script:Attack = "$([char]27)]0;pwned$([char]7)$([char]27)[2J"
    $script:Shown = "$([char]0x241B)]0;pwned$([char]0x2407)$([char]0x241B)[2J"
    $script:FakePrompt = "`r`nPS C:\> "
    $script:FakePromptShown = "$([char]0x240D)$([char]0x240A)PS C:\> "

    # The control characters in text bound for the terminal, but TAB, CR, LF and PowerShell's own colours (SGR: ESC [ ... m).
    function script:Get-UnsafeControl([string] $Text) {
        $withoutSgr = $Text -replace "$([char]27)\[[0-9;]*m", ''
        [regex]::Matches($withoutSgr, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]') | ForEach-Object { '\x{0:X2}' -f [int][char]$_.Value }
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
}

Describe 'Start-Tunnel and Get-Tunnel with a server that sends escape sequences' {
    BeforeEach {
        $rendering = $PSStyle.OutputRendering
        $PSStyle.OutputRendering = 'Ansi' # as on an interactive terminal: PowerShell strips nothing itself
    }

    AfterEach {
        $PSStyle.OutputRendering = $rendering
        Get-Tunnel | Stop-Tunnel
    }

    It 'shows the public URL it assigned with its controls visible in the output, Get-Tunnel | Format-List * and ToString' {
        $hostile = [TunnelPS.Tests.HostileTunnelServer]::new("x.example.test$Attack", '', '')
        try {
            $tunnels = Start-Tunnel -Http 3000 -Name escapes -ServerAddress "127.0.0.1:$($hostile.Port)" -SkipCertificateCheck -NoInspect

            $tunnels.PublicUrl | Should -Be @("http://x.example.test$Shown", "https://x.example.test$Shown")
            Get-UnsafeControl ($tunnels | Out-String) | Should -BeNullOrEmpty
            Get-UnsafeControl (Get-Tunnel escapes | Format-List * | Out-String) | Should -BeNullOrEmpty
            Get-UnsafeControl ((Get-Tunnel escapes | ForEach-Object ToString) -join ' ') | Should -BeNullOrEmpty
        }
        finally {
            Get-Tunnel escapes -ErrorAction Ignore | Stop-Tunnel # before the server goes: no Reconnecting warning
            $hostile.Dispose()
        }
    }

    It 'shows a tunnel refusal with its controls visible in the error record' {
        $hostile = [TunnelPS.Tests.HostileTunnelServer]::new('', "name taken$Attack$FakePrompt", '')
        try {
            $err = { Start-Tunnel -Http 3000 -Name refused -ServerAddress "127.0.0.1:$($hostile.Port)" -SkipCertificateCheck -NoInspect -ErrorAction Stop } |
                Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand' -PassThru
        }
        finally { $hostile.Dispose() }

        $err.Exception.Message.EndsWith(": name taken$Shown$FakePromptShown") | Should -BeTrue -Because $err.Exception.Message
        Get-UnsafeControl ($err | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err.Exception | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
    }

    It 'shows a login refusal with its controls visible in the error record' {
        $hostile = [TunnelPS.Tests.HostileTunnelServer]::new('', '', "bad token$Attack$FakePrompt")
        try {
            $err = { Start-Tunnel -Http 3000 -Name denied -ServerAddress "127.0.0.1:$($hostile.Port)" -SkipCertificateCheck -NoInspect -ErrorAction Stop } |
                Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand' -PassThru
        }
        finally { $hostile.Dispose() }

        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $err.Exception.Message.EndsWith("refused the login: bad token$Shown$FakePromptShown") | Should -BeTrue -Because $err.Exception.Message
        Get-UnsafeControl ($err | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
    }
}

Describe 'Start-Tunnel -Wait with a server that sends escape sequences, in a real terminal (tmux)' {
    It 'draws the public URL with its controls visible: the window title is not set and the screen not cleared' {
        if (-not (Test-TmuxAvailable)) { Set-ItResult -Skipped -Because 'tmux is not installed, so there is no real terminal to test in (apt-get install -y tmux)'; return }
        $hostile = [TunnelPS.Tests.HostileTunnelServer]::new("x.example.test$Attack", '', '')
        $terminal = Start-TmuxPwsh -Width 100 -Height 30 -SetupScript "Import-Module '$(Get-TunnelPSManifestPath)'"
        try {
            $title = & tmux -L $terminal.Socket display-message -p -t $terminal.Target '#{pane_title}'
            Send-TmuxKeys $terminal -Text "Start-Tunnel -Http 3000 -Name screen -ServerAddress 127.0.0.1:$($hostile.Port) -SkipCertificateCheck -NoInspect -Wait"

            $screen = Wait-TmuxScreen $terminal -Pattern 'Session Status\s+online', "Forwarding\s+$([regex]::Escape("http://x.example.test$Shown")) -> "
            $screen | Should -Match "Forwarding\s+$([regex]::Escape("https://x.example.test$Shown")) -> "
            & tmux -L $terminal.Socket display-message -p -t $terminal.Target '#{pane_title}' | Should -Be $title

            Send-TmuxKeys $terminal -Key 'C-c'
            $null = Wait-TmuxState $terminal -Condition { param($s) -not $s.AlternateScreen -and $s.CursorVisible }
        }
        finally {
            Stop-TmuxPwsh $terminal
            $hostile.Dispose()
        }
    }
}
