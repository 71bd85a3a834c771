<#
.SYNOPSIS
    Runs the Pester module tests; build.ps1 starts it in a fresh pwsh process.

.DESCRIPTION
    Imports Pester by path (from the NuGet package), runs every *.Tests.ps1 under
    -TestPath with detailed output, writes NUnit XML and a small JSON summary (the counts
    build.ps1 adds up) to -ResultDirectory. Exits 0 when Pester ran to completion, whatever
    the tests' outcome; non-zero only when Pester itself could not run.

    The output is plain text (no ANSI colour codes) when it is redirected to a file or a
    pipe, when $env:CI is set, or when $env:NO_COLOR is set, so that logs stay readable;
    in a terminal it is coloured.

.PARAMETER PesterPath
    Path of Pester.psd1.

.PARAMETER TestPath
    The folder of the tests (tests/Pester).

.PARAMETER ResultDirectory
    Where Pester.xml (NUnit) and Pester.summary.json go.

.NOTES
    The tests run with a home folder of their own (a new temporary folder, removed at the end): ~/.tunnelps (the
    local CA, the agent config, the inspector's secret) and every other per-user file the module or PowerShell
    writes go there, so the user's home is left as it was. NuGet's package folder and the .NET tools stay the
    user's own, so the tests' builds and `dotnet pwsh` work offline.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $TestPath,
    [Parameter(Mandatory)] [string] $ResultDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

Import-Module -Name $PesterPath -Force

$realHome = [Environment]::GetFolderPath([Environment+SpecialFolder]::UserProfile)
if (-not $env:NUGET_PACKAGES) {
    $line = & dotnet nuget locals global-packages --list
    if ($LASTEXITCODE -ne 0) { throw "dotnet nuget locals global-packages --list exited $LASTEXITCODE." }
    $env:NUGET_PACKAGES = (($line | Select-Object -Last 1) -replace '^\s*global-packages:\s*', '').Trim()
}
if (-not $env:DOTNET_CLI_HOME) { $env:DOTNET_CLI_HOME = $realHome }
$testHome = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-pester-home-' + [guid]::NewGuid().ToString('n'))
$null = New-Item -ItemType Directory -Path $testHome
$env:HOME = $testHome
if ($IsWindows) { $env:USERPROFILE = $testHome }
if ([Environment]::GetFolderPath([Environment+SpecialFolder]::UserProfile) -ne $testHome) {
    throw "The tests' home folder could not be set to $testHome."
}

$configuration = New-PesterConfiguration
$configuration.Run.Path = $TestPath
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
# Pester's Auto mode colours whenever the host supports VT, even when the output goes to a log file.
if ([Console]::IsOutputRedirected -or $env:CI -or $null -ne $env:NO_COLOR) {
    $configuration.Output.RenderMode = 'Plaintext'
    # The tests' own warnings and errors too: PowerShell colours them whenever the host supports VT.
    $PSStyle.OutputRendering = 'PlainText'
}
# The NUnit file is written after the run (below), so that a report Pester cannot write (a failure message with a
# control character that XML does not allow) costs the report, never the counts.
$configuration.TestResult.Enabled = $false

try {
    $result = Invoke-Pester -Configuration $configuration
    try {
        $result | Export-NUnitReport -Path (Join-Path $ResultDirectory 'Pester.xml')
    }
    catch {
        Write-Warning "The NUnit report could not be written: $_"
    }
}
finally {
    $env:HOME = $realHome
    if ($IsWindows) { $env:USERPROFILE = $realHome }
    Remove-Item -LiteralPath $testHome -Recurse -Force -ErrorAction SilentlyContinue
}

# A failed BeforeAll or a test file that does not even load counts as a failure.
$summary = [ordered]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount + $result.InconclusiveCount
}
$summary | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultDirectory 'Pester.summary.json') -Encoding utf8NoBOM
exit 0
