<#
.SYNOPSIS
    Builds, tests, packages and demonstrates the TunnelPS module.

.DESCRIPTION
    The one entry point of the repository. Run it with the pinned PowerShell tool:

        dotnet tool restore
        dotnet pwsh ./build.ps1 <Task>

    Tasks (several may be given; each runs once, in the order given):

    Build    dotnet build of the solution, then lays out out/TunnelPS/ from an explicit
             allow-list: TunnelPS.dll (+pdb), the manifest (version from
             Directory.Build.props), the format file and en-US help at the root, and the
             engine with its dependencies in Dependencies/. Fails when an expected file is
             missing, when the engine needs an assembly the allow-list does not name, or
             when TunnelPS.dll references one of the engine's private dependencies.
    Test     Build, then the xunit tests (the engine's, and the web inspector's page in
             Debian's chromium through Playwright: apt-get install -y chromium, else those
             skip with the reason), the Pester module tests (in a fresh pwsh) and the Arm64
             check, results in out/TestResults. Prints one closing line 'N passed, N failed[,
             N skipped]' (the sum of all four) and fails if anything failed or a runner could not run.
    Package  Build, then out/TunnelPS.<version>.nupkg for PSResourceGet
             (Publish-PSResource -NupkgPath).
    Docs     Checks that docs/ has a page per exported cmdlet and writes the MAML help
             (out/TunnelPS/en-US/TunnelPS.dll-Help.xml) from the pages.
    Bench    Runs bench/TunnelPS.Bench in Release when it exists: the benchmark (a minute or
             two), then the soak (bench/README.md): server and client in child processes,
             the memory per idle visitor connection (2,000 by default), then 10 minutes of
             mixed traffic, churn and attacks with both sides sampled every 30 s, a drain,
             and a table of connections, memory and descriptors at the start, peak and end
             (about 16 minutes in all). Fails when the soak finds a problem (not flat, a
             child died, an attack not handled as expected, a request that failed). -Soak
             runs the soak only, -Quick the short runs (a 1-minute soak), -BenchArgument
             passes more options to the harness. With -DataPath it runs the data-path
             benchmark instead (server and client as separate processes, its own nginx, wrk
             for keep-alive load, perf stat for syscalls), writing
             bench/results/datapath-<time>.json and .md. Results go to bench/results/ (not
             committed).
    Demo     Builds the module alone (the engine and TunnelPS.dll, not the tests, fuzzing or
             benchmark projects), lays it out as Build does, then runs build/Demo.ps1
             against out/TunnelPS in a fresh pwsh.
    Fuzz     Publishes tests/TunnelPS.Fuzz to out/fuzz/<target>/bin, instruments that copy of
             TunnelPS.Engine.dll with SharpFuzz (never the build the tests use) and runs
             afl-fuzz on tests/TunnelPS.Fuzz/corpus/<target> for -FuzzMinutes. Findings go to
             out/fuzz/<target>/findings-<time>; fails when afl-fuzz saved a crash or a hang.
             Needs afl-fuzz on the PATH (Debian: apt-get install -y afl++); CI does not fuzz,
             it replays the corpus (see tests/TunnelPS.Fuzz/README.md).
    Arm64    Publishes tests/TunnelPS.Arm64Check self-contained for linux-arm64 and runs it
             under qemu-aarch64-static (build/Invoke-Arm64Check.ps1): a server, a client, an
             http and a tcp tunnel, capture, replay, a TLS pin and the platform paths, 10 to
             60 s under emulation after the publish. Fails unless its result line says every check passed on Arm64. Needs
             qemu-user-static and the arm64 C libraries (.ci/run installs them); Test runs it
             too, as one more suite of its totals (skipped, with the reason, when they are
             missing).

.PARAMETER Task
    The tasks to run. Default: Build.

.PARAMETER Configuration
    The .NET build configuration. Default: Release.

.PARAMETER FuzzTarget
    The Fuzz task's target: frame, request-head, response-head, chunked, request-framing or
    response-framing (the framing scanner against the head parser), mux-frame (the multiplexed
    link's frame reader and a whole link fed the input), token-file (the server's token file),
    server-config (the server's config file), inspector-query, inspector-replay (the web
    inspector's API query and replay call) or har (the streaming HAR import). Default: chunked.

.PARAMETER FuzzMinutes
    How long the Fuzz task runs afl-fuzz, in minutes. Default: 10.

.PARAMETER FuzzTimeoutMs
    afl-fuzz's time limit for one input (-t), in milliseconds; a slower input is saved as a hang. Default: 2000.

.PARAMETER DataPath
    With Bench: run the data-path benchmark (keep-alive, new connections, downloads, fairness,
    idle memory, first request after idle) instead of the in-process benchmark. Uses wrk and
    nginx when installed (apt-get install -y wrk nginx-light linux-perf); never run by CI.


.PARAMETER Cluster
    With Bench: run the cluster benchmark instead (bench/TunnelPS.Bench/Cluster: two nodes and
    its own redis-server on loopback): new-connection latency and keep-alive throughput through
    the owner node and through a forwarding node, and the registration rate. -Quick for a few
    seconds. Needs redis-server (apt-get install -y redis-server).

.PARAMETER Soak
    Bench only: run the soak (and its idle-connection measurement) without the benchmark.

.PARAMETER Quick
    Bench only: the short runs: a quick benchmark and a 1-minute soak; with -DataPath, the
    data-path benchmark's quick mode (10 s idle instead of 90 s, 256 MiB downloads instead of
    1 GiB, 500 idle connections instead of 5,000).

.PARAMETER BenchArgument
    Bench only: more options for bench/TunnelPS.Bench, separated by spaces or commas, for
    example '--idle-connections 5000', '--soak-minutes 30', '--idle-only' or, with -DataPath,
    '--only keep-alive,new-connection' (the named steps alone), or '--mux-compare' for the
    multiplexer comparison instead of the benchmark (the engine's link against
    Nerdbank.Streams' MultiplexingStream and raw TLS, one process; with -Quick its short
    runs; '--mux-compare --only rr,new' for some of its scenarios) (the options are listed
    in bench/README.md).

.EXAMPLE
    dotnet pwsh ./build.ps1

    Builds and lays out out/TunnelPS.

.EXAMPLE
    dotnet pwsh ./build.ps1 Test

    Builds and runs every test; the last line is the totals.

.EXAMPLE
    dotnet pwsh ./build.ps1 Build, Package

.EXAMPLE
    dotnet pwsh ./build.ps1 Fuzz -FuzzTarget request-head -FuzzMinutes 15

    Fuzzes the request head parser for 15 minutes with afl-fuzz (as root, afl++ installed).

.EXAMPLE
    dotnet pwsh ./build.ps1 Bench -DataPath

    The data-path benchmark, full (about ten minutes); -Quick for a short run.

.EXAMPLE
    dotnet pwsh ./build.ps1 Bench -BenchArgument '--mux-compare'

    Compares the multiplexed link with Nerdbank.Streams' MultiplexingStream and raw TLS
    (two to three minutes; -Quick for a short run); writes bench/results/muxcompare-<time>.md.

.EXAMPLE
    dotnet pwsh ./build.ps1 Bench -Cluster -Quick

    Owner node vs forwarding node and the registration rate of a two-node cluster, a few seconds.

.EXAMPLE
    dotnet pwsh ./build.ps1 Bench -Soak -Quick

    Runs only the soak, for one minute instead of ten (about three minutes in all).

.EXAMPLE
    dotnet pwsh ./build.ps1 Bench -Soak -BenchArgument '--idle-only --idle-connections 5000'

    Measures only the memory per idle visitor connection, with 5,000 visitors.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Docs', 'Bench', 'Demo', 'Fuzz', 'Arm64')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    [ValidateSet('frame', 'request-head', 'response-head', 'chunked', 'request-framing', 'response-framing', 'mux-frame', 'token-file', 'server-config', 'inspector-query', 'inspector-replay', 'har')]
    [string] $FuzzTarget = 'chunked',

    [ValidateRange(1, 1440)]
    [int] $FuzzMinutes = 10,

    [ValidateRange(100, 60000)]
    [int] $FuzzTimeoutMs = 2000,

    [switch] $DataPath,
    [switch] $Cluster,

    [switch] $Soak,

    [switch] $Quick,

    [string[]] $BenchArgument = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$RepoRoot = $PSScriptRoot
$OutDir = Join-Path $RepoRoot 'out'
$ModuleOut = Join-Path $OutDir 'TunnelPS'
$TestResultsDir = Join-Path $OutDir 'TestResults'
$ManifestTemplate = Join-Path $RepoRoot 'module/TunnelPS.psd1'
$VersionToken = '{{ModuleVersion}}'
$PesterVersion = '5.7.1'

# The reviewed allow-lists of what ships. Adding a file here is a decision: the engine's
# dependencies ship in Dependencies/ and load only in the engine's private load context.
$RootFiles = @('TunnelPS.dll', 'TunnelPS.pdb')
$DependencyFiles = @(
    'TunnelPS.Engine.dll'
    'TunnelPS.Engine.pdb'
    'Microsoft.Extensions.DependencyInjection.Abstractions.dll'
    'Microsoft.Extensions.Logging.Abstractions.dll'
    'YamlDotNet.dll'
    'System.IO.Pipelines.dll'
    'Spectre.Console.dll'
    'Spectre.Console.Ansi.dll'
    # Loaded only by a server started with -Cluster (Cluster/RedisClusterStore.cs).
    'StackExchange.Redis.dll'
    'Pipelines.Sockets.Unofficial.dll'
)

$script:Completed = [System.Collections.Generic.HashSet[string]]::new()
$script:ExitCode = 0

function Assert-ExitCode {
    # Called after every native command: a non-zero exit code stops the build.
    param([Parameter(Mandatory)] [string] $What)
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed with exit code $LASTEXITCODE."
    }
}

function Write-Step {
    param([string] $Message)
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $RepoRoot 'Directory.Build.props'))
    $node = $props.SelectSingleNode('/Project/PropertyGroup/Version')
    if ($null -eq $node -or -not $node.InnerText) { throw 'Directory.Build.props has no <Version>.' }
    $version = $node.InnerText.Trim()
    $parsed = $null
    if (-not [version]::TryParse($version, [ref] $parsed)) {
        throw "Directory.Build.props <Version> '$version' is not a Major.Minor.Patch version (prerelease labels go in PrivateData.PSData.Prerelease)."
    }
    return $version
}

function Get-ExportedCmdlet {
    return @((Import-PowerShellDataFile -LiteralPath $ManifestTemplate).CmdletsToExport)
}

function Get-CmdletPage {
    # docs/<Verb-Noun>.md; README.md and about_*.md are not cmdlet pages.
    $docs = Join-Path $RepoRoot 'docs'
    if (-not (Test-Path -LiteralPath $docs)) { return @() }
    # Cmdlet names are capitalised (Start-Tunnel); guides such as self-hosting.md are not cmdlet pages.
    return @(Get-ChildItem -LiteralPath $docs -Filter '*.md' -File | Where-Object { $_.BaseName -cmatch '^[A-Z][A-Za-z]+-[A-Z][A-Za-z]+$' })
}

function Get-AssemblyReference {
    param([string] $Path)
    $stream = [System.IO.File]::OpenRead($Path)
    try {
        $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
        try {
            $reader = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            foreach ($handle in $reader.AssemblyReferences) {
                $reader.GetString($reader.GetAssemblyReference($handle).Name)
            }
        }
        finally { $pe.Dispose() }
    }
    finally { $stream.Dispose() }
}

function Assert-EngineDependencyList {
    # The allow-list and the engine's deps.json must agree, both ways.
    param([string] $EngineDepsJson)
    $deps = Get-Content -Raw -LiteralPath $EngineDepsJson | ConvertFrom-Json -AsHashtable
    $needed = [System.Collections.Generic.SortedSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
    foreach ($target in $deps['targets'].Values) {
        foreach ($library in $target.GetEnumerator()) {
            if ($library.Value.ContainsKey('runtimeTargets') -or $library.Value.ContainsKey('native')) {
                throw "Engine dependency $($library.Key) has platform-specific assets; the module layout does not handle them yet."
            }
            if ($library.Value.ContainsKey('runtime')) {
                foreach ($asset in $library.Value['runtime'].Keys) { $null = $needed.Add([System.IO.Path]::GetFileName($asset)) }
            }
        }
    }
    $allowedDlls = @($DependencyFiles | Where-Object { $_ -like '*.dll' })
    $unlisted = @($needed | Where-Object { $_ -notin $allowedDlls })
    if ($unlisted) {
        throw "The engine needs $($unlisted -join ', ') (per $EngineDepsJson), which the reviewed allow-list `$DependencyFiles in build.ps1 does not name. Review the dependency and add it."
    }
    $stale = @($allowedDlls | Where-Object { -not $needed.Contains($_) })
    if ($stale) {
        throw "The allow-list `$DependencyFiles in build.ps1 names $($stale -join ', '), which the engine no longer needs. Remove it."
    }
}

function Write-HelpFile {
    # MAML help from the docs pages; nothing to write until pages exist.
    $pages = @(Get-CmdletPage)
    $maml = Join-Path $ModuleOut 'en-US/TunnelPS.dll-Help.xml'
    if ($pages.Count -eq 0) {
        Write-Host 'No cmdlet pages in docs/ yet: no MAML help written.'
        return
    }
    & (Join-Path $RepoRoot 'build/ConvertTo-MamlHelp.ps1') -Path $pages.FullName -OutputPath $maml
    Write-Host "Wrote MAML help for $($pages.Count) command(s) to $maml"
}

function Invoke-BuildTask {
    # -ModuleOnly (the demo's build) compiles the module and the engine it references, not the tests, fuzzing and
    # benchmark projects of the solution: a fresh clone then shows a tunnel after one small build.
    param([switch] $ModuleOnly)
    $version = Get-ModuleVersion
    $target = if ($ModuleOnly) { Join-Path $RepoRoot 'src/TunnelPS/TunnelPS.csproj' } else { Join-Path $RepoRoot 'TunnelPS.sln' }
    Write-Step "Build TunnelPS $version ($Configuration)$(if ($ModuleOnly) { ': the module only' })"
    & dotnet build $target --configuration $Configuration --nologo
    Assert-ExitCode 'dotnet build'

    $moduleBin = Join-Path $RepoRoot "src/TunnelPS/bin/$Configuration/net8.0"
    $engineBin = Join-Path $RepoRoot "src/TunnelPS.Engine/bin/$Configuration/net8.0"
    Assert-EngineDependencyList -EngineDepsJson (Join-Path $engineBin 'TunnelPS.Engine.deps.json')

    $missing = @(
        $RootFiles | Where-Object { -not (Test-Path -LiteralPath (Join-Path $moduleBin $_)) }
        $DependencyFiles | Where-Object { -not (Test-Path -LiteralPath (Join-Path $moduleBin $_)) }
    )
    if ($missing) { throw "Build output $moduleBin lacks: $($missing -join ', ')" }

    # TunnelPS.dll may reference the engine, never the engine's own dependencies: those
    # must resolve in the engine's load context only.
    $private = @($DependencyFiles | Where-Object { $_ -like '*.dll' -and $_ -ne 'TunnelPS.Engine.dll' } | ForEach-Object { [System.IO.Path]::GetFileNameWithoutExtension($_) })
    $leaks = @(Get-AssemblyReference -Path (Join-Path $moduleBin 'TunnelPS.dll') | Where-Object { $_ -in $private })
    if ($leaks) { throw "TunnelPS.dll references $($leaks -join ', '); only the engine may use them (they load in its private context)." }

    Write-Step "Lay out $ModuleOut"
    if (Test-Path -LiteralPath $ModuleOut) { Remove-Item -LiteralPath $ModuleOut -Recurse -Force }
    $dependenciesOut = Join-Path $ModuleOut 'Dependencies'
    $helpOut = Join-Path $ModuleOut 'en-US'
    $null = New-Item -ItemType Directory -Force -Path $ModuleOut, $dependenciesOut, $helpOut
    foreach ($file in $RootFiles) { Copy-Item -LiteralPath (Join-Path $moduleBin $file) -Destination $ModuleOut }
    foreach ($file in $DependencyFiles) { Copy-Item -LiteralPath (Join-Path $moduleBin $file) -Destination $dependenciesOut }

    $manifestText = Get-Content -Raw -LiteralPath $ManifestTemplate
    if (-not $manifestText.Contains($VersionToken)) { throw "module/TunnelPS.psd1 lacks the $VersionToken token." }
    $manifestOut = Join-Path $ModuleOut 'TunnelPS.psd1'
    [System.IO.File]::WriteAllText($manifestOut, $manifestText.Replace($VersionToken, $version), [System.Text.UTF8Encoding]::new($false))
    if ((Import-PowerShellDataFile -LiteralPath $manifestOut).ModuleVersion -ne $version) { throw 'The templated manifest does not carry the version.' }

    Copy-Item -LiteralPath (Join-Path $RepoRoot 'module/TunnelPS.format.ps1xml') -Destination $ModuleOut
    Copy-Item -LiteralPath (Join-Path $RepoRoot 'module/en-US/about_TunnelPS.help.txt') -Destination $helpOut
    Write-HelpFile

    Get-ChildItem -LiteralPath $ModuleOut -Recurse -File |
        ForEach-Object { '  ' + [System.IO.Path]::GetRelativePath($OutDir, $_.FullName) } |
        Sort-Object |
        Write-Host
}

function Get-TrxCount {
    # Counts from a VSTest trx file; zeros (and a note) when the runner wrote none.
    param([string] $Path)
    if (-not (Test-Path -LiteralPath $Path)) {
        return $null
    }
    $trx = [xml](Get-Content -Raw -LiteralPath $Path)
    $ns = [System.Xml.XmlNamespaceManager]::new($trx.NameTable)
    $ns.AddNamespace('t', 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010')
    $counters = $trx.SelectSingleNode('/t:TestRun/t:ResultSummary/t:Counters', $ns)
    if ($null -eq $counters) { throw "$Path has no ResultSummary/Counters." }
    $n = { param($name) $value = $counters.GetAttribute($name); if ($value) { [int]$value } else { 0 } }
    # xunit's skipped tests are results with outcome NotExecuted; the summary counters do not always count them
    # (total 374, executed 370, notExecuted 0), so they are counted from the results themselves.
    $notExecuted = @($trx.SelectNodes("//t:UnitTestResult[@outcome='NotExecuted']", $ns)).Count
    [pscustomobject]@{
        Passed  = & $n 'passed'
        Failed  = (& $n 'failed') + (& $n 'error') + (& $n 'timeout') + (& $n 'aborted')
        Skipped = [Math]::Max($notExecuted, (& $n 'notExecuted')) + (& $n 'inconclusive')
    }
}

function Get-PesterModulePath {
    # Pester comes from the NuGet package (the PowerShell Gallery is not reachable).
    $project = Join-Path $RepoRoot 'build/PesterDownload/PesterDownload.csproj'
    & dotnet restore $project --nologo --verbosity quiet "-p:PesterVersion=$PesterVersion"
    Assert-ExitCode 'dotnet restore (Pester package)'
    $root = $env:NUGET_PACKAGES
    if (-not $root) {
        $line = & dotnet nuget locals global-packages --list
        Assert-ExitCode 'dotnet nuget locals'
        $root = ($line | Select-Object -Last 1) -replace '^\s*global-packages:\s*', ''
    }
    $psd1 = Join-Path $root.Trim() "pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path -LiteralPath $psd1)) { throw "Pester $PesterVersion not found at $psd1 after restore." }
    return $psd1
}

function Invoke-TestTask {
    Invoke-Once 'Build'
    # The package too: a Pester test installs it with PSResourceGet as the README says.
    Invoke-Once 'Package'
    if (Test-Path -LiteralPath $TestResultsDir) { Remove-Item -LiteralPath $TestResultsDir -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $TestResultsDir
    $runnerFailures = [System.Collections.Generic.List[string]]::new()

    # The xunit projects: the engine's, and the web inspector's page in Debian's chromium (its tests skip, with
    # the reason, when chromium is missing; Playwright never downloads a browser).
    $env:PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1'
    if (-not (Get-Command -Name chromium -CommandType Application -ErrorAction Ignore)) {
        Write-Host 'No chromium on the PATH: the web inspector''s browser tests skip (apt-get install -y chromium runs them).' -ForegroundColor Yellow
    }
    $xunit = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($project in 'TunnelPS.Engine.Tests', 'TunnelPS.Inspector.Tests') {
        Write-Step "xunit: tests/$project"
        $trxPath = Join-Path $TestResultsDir "$project.trx"
        & dotnet test (Join-Path $RepoRoot "tests/$project") --configuration $Configuration --no-build --nologo `
            --logger "trx;LogFileName=$project.trx" --results-directory $TestResultsDir
        $projectExit = $LASTEXITCODE
        $counts = Get-TrxCount -Path $trxPath
        if ($null -eq $counts) {
            if ($projectExit -ne 0) { $runnerFailures.Add("dotnet test ($project) exited $projectExit without writing $trxPath") }
            else { Write-Host "dotnet test ($project) wrote no trx file (no tests to run): counting 0." }
            continue
        }
        if ($projectExit -ne 0 -and $counts.Failed -eq 0) {
            $runnerFailures.Add("dotnet test ($project) exited $projectExit but its trx counts no failed test")
        }
        Write-Host "$project`: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
        $xunit.Passed += $counts.Passed
        $xunit.Failed += $counts.Failed
        $xunit.Skipped += $counts.Skipped
    }

    Write-Step 'Pester: tests/Pester (fresh pwsh)'
    $pester = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    $summaryPath = Join-Path $TestResultsDir 'Pester.summary.json'
    try {
        $pesterPsd1 = Get-PesterModulePath
        # `dotnet pwsh` resolves the pinned tool from the repository's tool manifest.
        Push-Location $RepoRoot
        try {
            & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $RepoRoot 'build/Invoke-PesterTests.ps1') `
                -PesterPath $pesterPsd1 -TestPath (Join-Path $RepoRoot 'tests/Pester') -ResultDirectory $TestResultsDir
            $pesterExit = $LASTEXITCODE
        }
        finally { Pop-Location }
        if ($pesterExit -ne 0 -or -not (Test-Path -LiteralPath $summaryPath)) {
            $runnerFailures.Add("Pester did not complete (exit code $pesterExit)")
        }
        else {
            $pester = Get-Content -Raw -LiteralPath $summaryPath | ConvertFrom-Json
        }
    }
    catch {
        $runnerFailures.Add("Pester could not run: $_")
    }

    Write-Step 'arm64: tests/TunnelPS.Arm64Check under qemu-user'
    $arm64 = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    try {
        $arm64 = & (Join-Path $RepoRoot 'build/Invoke-Arm64Check.ps1') -RepoRoot $RepoRoot -Configuration $Configuration -SkipWhenMissing
        if ($arm64.Reason) { Write-Host $arm64.Reason -ForegroundColor Yellow }
    }
    catch {
        $runnerFailures.Add("The arm64 check could not run: $_")
    }

    foreach ($failure in $runnerFailures) { Write-Host "Test runner failure: $failure" -ForegroundColor Red }
    $passed = $xunit.Passed + $pester.Passed + $arm64.Passed
    $failed = $xunit.Failed + $pester.Failed + $arm64.Failed + $runnerFailures.Count
    $skipped = $xunit.Skipped + $pester.Skipped + $arm64.Skipped
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped; Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped; arm64: $($arm64.Passed) passed, $($arm64.Failed) failed, $($arm64.Skipped) skipped; runner failures: $($runnerFailures.Count)"
    $line = "$passed passed, $failed failed"
    if ($skipped -gt 0) { $line += ", $skipped skipped" }
    Write-Host $line
    if ($failed -gt 0) { $script:ExitCode = 1 }
}

function Invoke-PackageTask {
    Invoke-Once 'Build'
    $manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $ModuleOut 'TunnelPS.psd1')
    $version = $manifest.ModuleVersion
    Write-Step "Package TunnelPS $version"
    $psData = $manifest.PrivateData.PSData
    # The tags PSResourceGet itself writes for a module, plus the manifest's own.
    $tags = @('PSModule', 'PSIncludes_Cmdlet') + @($psData.Tags) +
        @($manifest.CmdletsToExport | ForEach-Object { "PSCmdlet_$_"; "PSCommand_$_" })

    $staging = Join-Path $OutDir 'package'
    if (Test-Path -LiteralPath $staging) { Remove-Item -LiteralPath $staging -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $staging
    $nuspecPath = Join-Path $staging 'TunnelPS.nuspec'
    $settings = [System.Xml.XmlWriterSettings]::new()
    $settings.Indent = $true
    $writer = [System.Xml.XmlWriter]::Create($nuspecPath, $settings)
    try {
        $nuspecNs = 'http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd'
        $writer.WriteStartElement('package', $nuspecNs)
        $writer.WriteStartElement('metadata', $nuspecNs)
        $writer.WriteElementString('id', $nuspecNs, 'TunnelPS')
        $writer.WriteElementString('version', $nuspecNs, $version)
        $writer.WriteElementString('authors', $nuspecNs, $manifest.Author)
        $writer.WriteElementString('owners', $nuspecNs, $manifest.CompanyName)
        $writer.WriteElementString('requireLicenseAcceptance', $nuspecNs, 'false')
        $writer.WriteElementString('description', $nuspecNs, $manifest.Description)
        $writer.WriteElementString('releaseNotes', $nuspecNs, $psData.ReleaseNotes)
        $writer.WriteElementString('copyright', $nuspecNs, $manifest.Copyright)
        $writer.WriteElementString('tags', $nuspecNs, ($tags -join ' '))
        $writer.WriteEndElement()
        $writer.WriteStartElement('files', $nuspecNs)
        $writer.WriteStartElement('file', $nuspecNs)
        $writer.WriteAttributeString('src', '**/*')
        $writer.WriteAttributeString('target', '')
        $writer.WriteEndElement()
        $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    finally { $writer.Dispose() }

    & dotnet pack (Join-Path $RepoRoot 'build/ModulePackage/ModulePackage.csproj') --nologo --output $OutDir `
        "-p:NuspecFile=$nuspecPath" "-p:NuspecBasePath=$ModuleOut"
    Assert-ExitCode 'dotnet pack'
    $nupkg = Join-Path $OutDir "TunnelPS.$version.nupkg"
    if (-not (Test-Path -LiteralPath $nupkg)) { throw "dotnet pack did not produce $nupkg." }
    Write-Host "Package: $nupkg"
}

function Invoke-DocsTask {
    Write-Step 'Docs'
    $pages = @(Get-CmdletPage | ForEach-Object BaseName)
    $missing = @(Get-ExportedCmdlet | Where-Object { $_ -notin $pages })
    $extra = @($pages | Where-Object { $_ -notin (Get-ExportedCmdlet) })
    foreach ($page in $extra) { Write-Warning "docs/$page.md documents a command the manifest does not export." }
    Write-HelpFile
    if ($missing) {
        throw "docs/ lacks a page for $($missing.Count) exported cmdlet(s): $($missing -join ', ')"
    }
    Write-Host "docs/ has a page for each of the $(@(Get-ExportedCmdlet).Count) exported cmdlets."
}

function Invoke-BenchTask {
    Write-Step 'Bench'
    $project = Join-Path $RepoRoot 'bench/TunnelPS.Bench/TunnelPS.Bench.csproj'
    if (-not (Test-Path -LiteralPath $project)) {
        Write-Host 'No benchmarks yet: bench/TunnelPS.Bench does not exist.'
        return
    }
    # Each -BenchArgument value may hold several options ('--idle-only --idle-connections 5000'): a shell that runs
    # `pwsh ./build.ps1` hands a list over as one string.
    $arguments = @(
        if ($DataPath) { '--datapath', '--results', (Join-Path $RepoRoot 'bench/results') }
        if ($Cluster) { '--cluster' }
        if ($Soak) { '--soak-only' }
        if ($Quick) { '--quick' }
        $BenchArgument | ForEach-Object { $_ -split '[,\s]+' } | Where-Object { $_ }
    )
    # dotnet run has no --nologo (it would reach the harness as an argument); '--' is quoted so PowerShell passes
    # it on instead of taking it for itself.
    & dotnet run --project $project --configuration Release '--' @arguments
    Assert-ExitCode 'dotnet run (bench)'
}

function Invoke-DemoTask {
    # The demo runs the module alone: build just that, unless the whole solution was built already in this run.
    if (-not $script:Completed.Contains('Build')) { Invoke-Once 'ModuleBuild' }
    Write-Step 'Demo (fresh pwsh)'
    Push-Location $RepoRoot
    try {
        & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $RepoRoot 'build/Demo.ps1') -ModulePath (Join-Path $ModuleOut 'TunnelPS.psd1')
        Assert-ExitCode 'build/Demo.ps1'
    }
    finally { Pop-Location }
}

function Invoke-FuzzTask {
    Write-Step "Fuzz $FuzzTarget for $FuzzMinutes minute(s)"
    $aflFuzz = Get-Command -Name 'afl-fuzz' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -eq $aflFuzz) { throw 'afl-fuzz is not installed; on Debian: apt-get install -y afl++ (as root).' }
    $corpus = Join-Path $RepoRoot "tests/TunnelPS.Fuzz/corpus/$FuzzTarget"
    if (-not (Get-ChildItem -LiteralPath $corpus -File -ErrorAction SilentlyContinue)) { throw "The seed corpus $corpus is empty or missing." }

    # A fresh published copy per target, then a copy of it that SharpFuzz rewrites in place (instrumenting twice
    # fails). The plain copy replays what afl-fuzz saved: instrumented code expects afl's shared memory.
    $fuzzOut = Join-Path $OutDir "fuzz/$FuzzTarget"
    $bin = Join-Path $fuzzOut 'bin'
    $instrumented = Join-Path $fuzzOut 'instrumented'
    foreach ($dir in $bin, $instrumented) { if (Test-Path -LiteralPath $dir) { Remove-Item -LiteralPath $dir -Recurse -Force } }
    & dotnet publish (Join-Path $RepoRoot 'tests/TunnelPS.Fuzz/TunnelPS.Fuzz.csproj') --configuration Release --nologo --output $bin
    Assert-ExitCode 'dotnet publish (fuzz harness)'
    Copy-Item -LiteralPath $bin -Destination $instrumented -Recurse

    # Only the parsers' code is instrumented, so coverage feedback is about them: the HTTP and protocol namespaces (the
    # web inspector's targets add the inspector's, the HAR import the capture's); the multiplexed link's target runs the
    # link and its frame reader (Transport); for the files a server reads, the configuration readers and YamlDotNet,
    # whose scanner sees the bytes first.
    Push-Location $RepoRoot
    try {
        if ($FuzzTarget -in 'token-file', 'server-config') {
            & dotnet sharpfuzz (Join-Path $instrumented 'TunnelPS.Engine.dll') 'TunnelPS.Engine.Configuration'
            Assert-ExitCode 'sharpfuzz (instrumenting the published copy of TunnelPS.Engine.dll)'
            & dotnet sharpfuzz (Join-Path $instrumented 'YamlDotNet.dll')
            Assert-ExitCode 'sharpfuzz (instrumenting the published copy of YamlDotNet.dll)'
        }
        else {
            $namespaces = if ($FuzzTarget -eq 'mux-frame') { @('TunnelPS.Engine.Transport') } else { @('TunnelPS.Engine.Http', 'TunnelPS.Engine.Protocol') }
            if ($FuzzTarget -like 'inspector-*') { $namespaces += 'TunnelPS.Engine.Inspector' }
            if ($FuzzTarget -eq 'har') { $namespaces += 'TunnelPS.Engine.Inspection' }
            & dotnet sharpfuzz (Join-Path $instrumented 'TunnelPS.Engine.dll') @namespaces
            Assert-ExitCode 'sharpfuzz (instrumenting the published copy of TunnelPS.Engine.dll)'
        }
    }
    finally { Pop-Location }

    $findings = Join-Path $fuzzOut ('findings-' + [DateTime]::UtcNow.ToString('yyyyMMdd-HHmmss'))
    $dotnet = (Get-Command -Name 'dotnet' -CommandType Application | Select-Object -First 1).Source
    $environment = @{
        AFL_SKIP_BIN_CHECK                    = '1'  # the binary is dotnet; the instrumentation is in the engine assembly
        AFL_SKIP_CPUFREQ                      = '1'
        AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES = '1'
        AFL_NO_UI                             = '1'
        AFL_NO_AFFINITY                       = '1'  # other work shares the cores
    }
    $saved = @{}
    foreach ($name in $environment.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $environment[$name])
    }
    try {
        & $aflFuzz.Source -i $corpus -o $findings -t $FuzzTimeoutMs -m none -V ($FuzzMinutes * 60) -- `
            $dotnet (Join-Path $instrumented 'TunnelPS.Fuzz.dll') $FuzzTarget
        Assert-ExitCode 'afl-fuzz'
    }
    finally {
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }

    $statsFile = Join-Path $findings 'default/fuzzer_stats'
    if (-not (Test-Path -LiteralPath $statsFile)) { throw "afl-fuzz wrote no $statsFile." }
    $stats = @{}
    foreach ($line in Get-Content -LiteralPath $statsFile) {
        $key, $value = $line -split '\s*:\s*', 2
        $stats[$key] = $value
    }
    Write-Host ("{0}: {1} executions in {2} s ({3} execs/s), corpus {4}, crashes {5}, hangs {6}; findings in {7}" -f
        $FuzzTarget, $stats['execs_done'], $stats['run_time'], $stats['execs_per_sec'], $stats['corpus_count'],
        $stats['saved_crashes'], $stats['saved_hangs'], $findings)
    if ([int]$stats['saved_crashes'] -gt 0 -or [int]$stats['saved_hangs'] -gt 0) {
        # The uninstrumented harness replays the saved inputs and prints each exception with its stack.
        foreach ($kind in 'crashes', 'hangs') {
            $savedDir = Join-Path $findings "default/$kind"
            if (Test-Path -LiteralPath $savedDir) { & $dotnet (Join-Path $bin 'TunnelPS.Fuzz.dll') $FuzzTarget $savedDir }
        }
        Write-Host "afl-fuzz saved crashes or hangs: see $findings/default/crashes and hangs, and tests/TunnelPS.Fuzz/README.md." -ForegroundColor Red
        $script:ExitCode = 1
    }
}

function Invoke-Arm64Task {
    Write-Step 'arm64: tests/TunnelPS.Arm64Check under qemu-user'
    $arm64 = & (Join-Path $RepoRoot 'build/Invoke-Arm64Check.ps1') -RepoRoot $RepoRoot -Configuration $Configuration
    if ($arm64.Failed -gt 0 -or $arm64.Passed -eq 0) {
        Write-Host $arm64.Reason -ForegroundColor Red
        $script:ExitCode = 1
    }
}

function Invoke-Once {
    param([string] $Name)
    if (-not $script:Completed.Add($Name)) { return }
    switch ($Name) {
        'Build' { Invoke-BuildTask }
        'ModuleBuild' { Invoke-BuildTask -ModuleOnly }
        'Test' { Invoke-TestTask }
        'Package' { Invoke-PackageTask }
        'Docs' { Invoke-DocsTask }
        'Bench' { Invoke-BenchTask }
        'Demo' { Invoke-DemoTask }
        'Fuzz' { Invoke-FuzzTask }
        'Arm64' { Invoke-Arm64Task }
    }
}

foreach ($name in $Task) { Invoke-Once $name }
exit $script:ExitCode
