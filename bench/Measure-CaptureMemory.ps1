<#
.SYNOPSIS
    Measures the memory of a pwsh session whose tunnel captures many large downloads (issue 10's case).
.DESCRIPTION
    In this pwsh process: a tunnel server on its defaults and an http tunnel to a local file server (python3
    -m http.server, in its own process) serving one file of -FileSize bytes; then curl (one process, keep-alive)
    downloads the file -Count times through the tunnel. Prints the process's private memory after setup, after
    the downloads, and after Clear-TunnelRequest -All and a full, compacting GC; and the capture's figures.
    Not part of the test suite or CI: run it by hand after `./build.ps1 Build`:

        dotnet pwsh -NoProfile -File ./bench/Measure-CaptureMemory.ps1

    Needs curl and python3 on the PATH. Everything listens on loopback only.
.PARAMETER Count
    How many downloads. Default 1200.
.PARAMETER FileSize
    The size of the file, in bytes. Default 900 KB.
#>
[CmdletBinding()]
param(
    [int] $Count = 1200,
    [int] $FileSize = 900KB
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$module = Join-Path $PSScriptRoot '../out/TunnelPS/TunnelPS.psd1'
Import-Module $module -Force

function Get-PrivateMB {
    $process = Get-Process -Id $PID
    $process.Refresh()
    [Math]::Round($process.PrivateMemorySize64 / 1MB, 1)
}

function Get-HeapMB {
    $info = [GC]::GetGCMemoryInfo()
    "heap $([Math]::Round([GC]::GetTotalMemory($false) / 1MB, 1)) MB, GC committed $([Math]::Round($info.TotalCommittedBytes / 1MB, 1)) MB"
}

$folder = Join-Path ([System.IO.Path]::GetTempPath()) "tunnelps-capture-memory-$PID"
$null = New-Item -ItemType Directory -Force -Path $folder
$bytes = [byte[]]::new($FileSize)
[System.Random]::new(1).NextBytes($bytes)
[System.IO.File]::WriteAllBytes((Join-Path $folder 'file.bin'), $bytes)
$bytes = $null

$probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
$probe.Start(); $port = $probe.LocalEndpoint.Port; $probe.Stop()
$files = Start-Process python3 -ArgumentList '-m', 'http.server', '--bind', '127.0.0.1', '--directory', $folder, $port -PassThru -RedirectStandardError (Join-Path $folder 'http.log')
try {
    $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    $tunnel = Start-Tunnel -Http $port -Scheme http -Name 'downloads'
    $url = "$($tunnel.PublicUrl)/file.bin"
    $deadline = [System.Diagnostics.Stopwatch]::StartNew()
    while ((& curl -s -o /dev/null -w '%{http_code}' $url) -ne '200') {
        if ($deadline.Elapsed.TotalSeconds -gt 20) { throw "The file server on port $port did not answer through the tunnel." }
        Start-Sleep -Milliseconds 100
    }
    Clear-TunnelRequest -Tunnel downloads
    [GC]::Collect(); [GC]::WaitForPendingFinalizers()
    $before = Get-PrivateMB
    $beforeHeap = Get-HeapMB

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    & curl -s -o /dev/null --fail "$url`?n=[1-$Count]"
    if ($LASTEXITCODE -ne 0) { throw "curl failed ($LASTEXITCODE)." }
    $seconds = $watch.Elapsed.TotalSeconds
    $deadline.Restart()
    while ($tunnel.CapturedCount + $tunnel.CaptureDroppedCount -lt $Count -and $deadline.Elapsed.TotalSeconds -lt 20) { Start-Sleep -Milliseconds 100 }
    $after = Get-PrivateMB
    $afterHeap = Get-HeapMB
    $captured = [pscustomobject]@{
        Captured     = $tunnel.CapturedCount
        CaptureMiB   = [Math]::Round($tunnel.CaptureBytes / 1MB, 1)
        Dropped      = $tunnel.CaptureDroppedCount
        DroppedMiB   = [Math]::Round($tunnel.CaptureDroppedBytes / 1MB, 1)
    }

    Clear-TunnelRequest -All
    [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
    $cleared = Get-PrivateMB
    $clearedHeap = Get-HeapMB
    # The GC keeps freed memory committed for reuse; the aggressive mode gives it back to the system.
    [GC]::Collect(2, [GCCollectionMode]::Aggressive, $true, $true)
    $aggressive = Get-PrivateMB
    $aggressiveHeap = Get-HeapMB

    "Downloads: $Count x $FileSize bytes through $($tunnel.PublicUrl) in $([Math]::Round($seconds, 1)) s"
    "Capture after the downloads: $($captured.Captured) requests held ($($captured.CaptureMiB) MiB), $($captured.Dropped) dropped ($($captured.DroppedMiB) MiB)"
    "pwsh private memory (MB): before $before, after downloads $after, after Clear-TunnelRequest -All + GC $cleared, after an aggressive GC $aggressive"
    "  before: $beforeHeap; after downloads: $afterHeap; after clear + GC: $clearedHeap; after aggressive GC: $aggressiveHeap"
}
finally {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    if (-not $files.HasExited) { $files.Kill() }
    Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction Ignore
}
