<#
.SYNOPSIS
    Writes docs/images/inspector.png: the web inspector's page with real traffic, taken in Debian's chromium.

.DESCRIPTION
    Runs the screenshot test of tests/TunnelPS.Inspector.Tests (InspectorScreenshotTests) with
    TUNNELPS_INSPECTOR_SCREENSHOT set: a real tunnel on loopback carries a few requests (GETs, a POST
    with a JSON body, a 404), the page replays the POST, and Playwright saves the page at 1280x800.
    Needs chromium on the PATH (apt-get install -y chromium); Playwright never downloads a browser.

        dotnet pwsh ./build/Save-InspectorScreenshot.ps1

.PARAMETER Path
    Where to write the PNG. Default: docs/images/inspector.png in the repository.
#>
[CmdletBinding()]
param(
    [string] $Path = (Join-Path $PSScriptRoot '../docs/images/inspector.png')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

if (-not (Get-Command -Name chromium -CommandType Application -ErrorAction Ignore)) {
    throw 'No chromium on the PATH: install it with apt-get install -y chromium.'
}
$target = [System.IO.Path]::GetFullPath($Path)
$null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $target)
$env:TUNNELPS_INSPECTOR_SCREENSHOT = $target
$env:PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1'
try {
    & dotnet test (Join-Path $PSScriptRoot '../tests/TunnelPS.Inspector.Tests') --configuration Release --nologo `
        --filter 'FullyQualifiedName~InspectorScreenshotTests'
    if ($LASTEXITCODE -ne 0) { throw "The screenshot test failed (exit code $LASTEXITCODE)." }
}
finally {
    Remove-Item -Path Env:TUNNELPS_INSPECTOR_SCREENSHOT
}
Write-Host "Wrote $target ($((Get-Item -LiteralPath $target).Length) bytes)"
