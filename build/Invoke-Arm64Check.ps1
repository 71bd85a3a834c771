<#
.SYNOPSIS
    Publishes tests/TunnelPS.Arm64Check for linux-arm64 and runs it under qemu-user; build.ps1's Arm64 task and its
    Test task call it.

.DESCRIPTION
    Publishes the check self-contained for linux-arm64 (invariant globalization, so no libicu is needed) to
    out/arm64check, runs it with qemu-aarch64-static -L / (the arm64 C libraries from Debian multiarch: libc6,
    libssl3, libstdc++6 and zlib1g for arm64; binfmt_misc is not needed) and reads its result line:

        arm64 check: 9 passed, 0 failed on Arm64 (RuntimeInformation.ProcessArchitecture), 17.5 s

    Returns an object with Passed, Failed, Skipped (the check's counts; Skipped is 1 when qemu or the arm64 C
    libraries are missing and -SkipWhenMissing is given), Reason (why it failed or skipped) and Line (the result
    line). A result line that does not say the checks passed on Arm64 counts as a failure.

.PARAMETER RepoRoot
    The repository root.

.PARAMETER Configuration
    The .NET build configuration.

.PARAMETER SkipWhenMissing
    Count a missing qemu-aarch64-static or arm64 loader as skipped (with the reason) instead of failed.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $RepoRoot,
    [string] $Configuration = 'Release',
    [switch] $SkipWhenMissing
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function New-Result([int] $Passed, [int] $Failed, [int] $Skipped, [string] $Reason, [string] $Line) {
    [pscustomobject]@{ Passed = $Passed; Failed = $Failed; Skipped = $Skipped; Reason = $Reason; Line = $Line }
}

$qemu = Get-Command -Name qemu-aarch64-static -CommandType Application -ErrorAction Ignore | Select-Object -First 1
$loader = '/lib/ld-linux-aarch64.so.1'
$missing = @()
if (-not $qemu) { $missing += 'qemu-aarch64-static (apt-get install -y qemu-user-static)' }
if (-not (Test-Path -LiteralPath $loader)) {
    $missing += "the arm64 C libraries ($loader; dpkg --add-architecture arm64 && apt-get update && apt-get install -y libc6:arm64 libssl3:arm64 libstdc++6:arm64 zlib1g:arm64)"
}
if ($missing.Count -gt 0) {
    $reason = 'The arm64 check cannot run: missing ' + ($missing -join ' and ') + '. .ci/run installs them.'
    if ($SkipWhenMissing) { return New-Result 0 0 1 $reason '' }
    return New-Result 0 1 0 $reason ''
}

$project = Join-Path $RepoRoot 'tests/TunnelPS.Arm64Check/TunnelPS.Arm64Check.csproj'
$publishDir = Join-Path $RepoRoot 'out/arm64check'
& dotnet publish $project --configuration $Configuration --runtime linux-arm64 --self-contained `
    -p:InvariantGlobalization=true --output $publishDir --nologo --verbosity quiet
if ($LASTEXITCODE -ne 0) { return New-Result 0 1 0 "dotnet publish of the arm64 check failed with exit code $LASTEXITCODE." '' }

# No runtime settings: under qemu-user the default tiered compilation was faster than with tiered PGO off (measured
# here, alternating: 10.7 and 13.9 s with the defaults, 14.5 and 18.5 s with DOTNET_TieredPGO=0).
$output = & $qemu.Source -L / (Join-Path $publishDir 'TunnelPS.Arm64Check') --expect-architecture Arm64 2>&1 |
    ForEach-Object { $text = "$_"; Write-Host $text; $text }
$exit = $LASTEXITCODE

$line = @($output | Where-Object { $_ -match '^arm64 check: ' }) | Select-Object -Last 1
if (-not $line -or $line -notmatch '^arm64 check: (\d+) passed, (\d+) failed on (\w+) ') {
    return New-Result 0 1 0 "The arm64 check printed no result line (exit code $exit)." ''
}
$passed = [int]$Matches[1]
$failed = [int]$Matches[2]
$architecture = $Matches[3]
if ($architecture -ne 'Arm64') {
    return New-Result $passed ($failed + 1) 0 "The arm64 check ran as $architecture, not Arm64." $line
}
if ($exit -ne 0 -and $failed -eq 0) {
    return New-Result $passed 1 0 "The arm64 check exited $exit but counts no failed check." $line
}
$reason = if ($failed -gt 0) { "$failed arm64 check(s) failed." } else { '' }
New-Result $passed $failed 0 $reason $line
