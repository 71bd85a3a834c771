# A real terminal for the TunnelPS Pester tests: pwsh running in a tmux session of a fixed size, driven with
# send-keys and read with capture-pane. Each session has a tmux server of its own (a private socket), so nothing
# else on the machine is touched and Stop-TmuxPwsh ends exactly what Start-TmuxPwsh started.
#     Import-Module (Join-Path $PSScriptRoot 'TmuxTerminal.psm1') -Force

Set-StrictMode -Version 3.0

function Test-TmuxAvailable {
    <#
    .SYNOPSIS
        True when tmux is on the PATH (Debian: apt-get install -y tmux; .ci/run installs it).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    $null -ne (Get-Command -Name 'tmux' -CommandType Application -ErrorAction Ignore)
}

function Invoke-Tmux {
    # One tmux command on the session's private server; a failure throws with tmux's message.
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [Parameter(Mandatory, Position = 1)] [string[]] $Arguments
    )
    $output = & tmux -L $Terminal.Socket @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "tmux $($Arguments -join ' ') failed ($LASTEXITCODE): $output" }
    $output
}

function Start-TmuxPwsh {
    <#
    .SYNOPSIS
        Starts pwsh (the same PowerShell as this one) in a new tmux session of -Width x -Height, runs -SetupScript
        in it (dot-sourced from a file), and returns once its prompt, 'PS-TMUX> ', shows.
    .DESCRIPTION
        Returns an object with Socket, Target and ScriptPath; always stop it with Stop-TmuxPwsh (AfterAll/finally).
    #>
    [CmdletBinding()]
    param(
        [int] $Width = 110,
        [int] $Height = 40,
        [string] $SetupScript = '',
        # Seconds.
        [double] $Timeout = 60
    )
    $id = [guid]::NewGuid().ToString('n').Substring(0, 12)
    $terminal = [pscustomobject]@{
        Socket     = "tunnelps-test-$id"
        Target     = 'status'
        ScriptPath = Join-Path ([System.IO.Path]::GetTempPath()) "tunnelps-tmux-$id.ps1"
    }
    $setup = @"
function global:prompt { 'PS-TMUX> ' }
$SetupScript
"@
    Set-Content -LiteralPath $terminal.ScriptPath -Value $setup -Encoding utf8NoBOM

    # Under `dotnet pwsh` this process is the dotnet host running pwsh.dll.
    $command = @("'$([Environment]::ProcessPath)'")
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $command += "'$(Join-Path $PSHOME 'pwsh.dll')'"
    }
    $command += '-NoProfile', '-NoLogo', '-NoExit', '-Command', "`". '$($terminal.ScriptPath)'`""
    $null = Invoke-Tmux $terminal @('new-session', '-d', '-s', $terminal.Target, '-x', $Width, '-y', $Height, '-e', 'TERM=xterm-256color', ($command -join ' '))
    $null = Invoke-Tmux $terminal @('set-option', '-t', $terminal.Target, 'status', 'off')
    try {
        $null = Wait-TmuxScreen $terminal -Pattern '(?m)^PS-TMUX>' -Timeout $Timeout
    }
    catch {
        Stop-TmuxPwsh $terminal
        throw
    }
    $terminal
}

function Stop-TmuxPwsh {
    <#
    .SYNOPSIS
        Ends the tmux server of a Start-TmuxPwsh session (and the pwsh in it) and removes its setup script.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Terminal)
    $socketPath = & tmux -L $Terminal.Socket display-message -p '#{socket_path}' 2>$null
    & tmux -L $Terminal.Socket kill-server 2>&1 | Out-Null
    # tmux leaves the socket file of a killed server behind.
    if ($LASTEXITCODE -eq 0 -and $socketPath) { Remove-Item -LiteralPath $socketPath -ErrorAction Ignore }
    Remove-Item -LiteralPath $Terminal.ScriptPath -ErrorAction Ignore
}

function Send-TmuxKeys {
    <#
    .SYNOPSIS
        Types -Text (literally) and presses Enter, or sends one -Key (C-c, Enter, ...).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [Parameter(Mandatory, ParameterSetName = 'Text')] [string] $Text,
        [Parameter(Mandatory, ParameterSetName = 'Key')] [string] $Key
    )
    if ($PSCmdlet.ParameterSetName -eq 'Text') {
        $null = Invoke-Tmux $Terminal @('send-keys', '-t', $Terminal.Target, '-l', $Text)
        $null = Invoke-Tmux $Terminal @('send-keys', '-t', $Terminal.Target, 'Enter')
    }
    else {
        $null = Invoke-Tmux $Terminal @('send-keys', '-t', $Terminal.Target, $Key)
    }
}

function Set-TmuxSize {
    <#
    .SYNOPSIS
        Resizes the session's window (the program in it gets SIGWINCH, as when a user resizes a terminal).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [Parameter(Mandatory)] [int] $Width,
        [Parameter(Mandatory)] [int] $Height
    )
    $null = Invoke-Tmux $Terminal @('resize-window', '-t', $Terminal.Target, '-x', $Width, '-y', $Height)
}

function Get-TmuxScreen {
    <#
    .SYNOPSIS
        The text on the session's screen now (capture-pane -p); -Join joins lines the terminal wrapped, -Escapes
        keeps colours.
    .DESCRIPTION
        -Join is for text wider than the window (plain lines in a narrow one). tmux also counts a line as wrapped
        when a program filled its last column before the next line began (PSReadLine pads a prompt line with
        spaces), so a joined capture can put a command and its output on one line.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [switch] $Join,
        [switch] $Escapes
    )
    $arguments = @('capture-pane', '-p', '-t', $Terminal.Target)
    if ($Join) { $arguments += '-J' }
    if ($Escapes) { $arguments += '-e' }
    (Invoke-Tmux $Terminal $arguments) -join "`n"
}

function Get-TmuxState {
    <#
    .SYNOPSIS
        The terminal's modes now: AlternateScreen (true while a program uses the alternate buffer) and CursorVisible.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Terminal)
    $alternate, $cursor = (Invoke-Tmux $Terminal @('display-message', '-p', '-t', $Terminal.Target, '#{alternate_on} #{cursor_flag}')) -split ' '
    [pscustomobject]@{
        AlternateScreen = $alternate -eq '1'
        CursorVisible   = $cursor -eq '1'
    }
}

function Wait-TmuxScreen {
    <#
    .SYNOPSIS
        Polls the screen until it matches every -Pattern (regular expressions) and returns it; throws at the
        deadline with the last screen in the message.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [Parameter(Mandatory)] [string[]] $Pattern,
        # Join wrapped lines (Get-TmuxScreen -Join).
        [switch] $Join,
        # Seconds.
        [double] $Timeout = 30
    )
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $screen = Get-TmuxScreen $Terminal -Join:$Join
        if (@($Pattern | Where-Object { $screen -notmatch $_ }).Count -eq 0) { return $screen }
        if ($clock.Elapsed.TotalSeconds -ge $Timeout) {
            $missing = @($Pattern | Where-Object { $screen -notmatch $_ }) -join "', '"
            throw "Timed out after $Timeout s waiting for the tmux screen to show '$missing'. The screen was:`n$screen"
        }
        Start-Sleep -Milliseconds 100
    }
}

function Wait-TmuxState {
    <#
    .SYNOPSIS
        Polls the terminal's modes until -Condition (given the Get-TmuxState object) holds; throws at the deadline.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Terminal,
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [double] $Timeout = 30
    )
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $state = Get-TmuxState $Terminal
        if (& $Condition $state) { return $state }
        if ($clock.Elapsed.TotalSeconds -ge $Timeout) {
            throw "Timed out after $Timeout s waiting for the terminal state $Condition; it is $state. The screen was:`n$(Get-TmuxScreen $Terminal)"
        }
        Start-Sleep -Milliseconds 100
    }
}

Export-ModuleMember -Function Test-TmuxAvailable, Start-TmuxPwsh, Stop-TmuxPwsh, Send-TmuxKeys, Set-TmuxSize, Get-TmuxScreen, Get-TmuxState,
    Wait-TmuxScreen, Wait-TmuxState
