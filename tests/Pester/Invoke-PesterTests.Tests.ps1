# build/Invoke-PesterTests.ps1, the runner build.ps1 starts: its output must be plain text when redirected.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $runner = Join-Path (Get-RepositoryRoot) 'build/Invoke-PesterTests.ps1'
    $pesterPath = (Get-Module Pester).Path -replace '\.psm1$', '.psd1'
    $testFolder = Join-Path $TestDrive 'tests'
    $null = New-Item -ItemType Directory -Path $testFolder
    Set-Content -LiteralPath (Join-Path $testFolder 'Sample.Tests.ps1') -Value "Describe 'a sample' { It 'passes' { Write-Warning 'a warning from a test'; 1 | Should -Be 1 } }"
}

Describe 'Invoke-PesterTests.ps1' {
    It 'writes no ANSI escape codes when its output is redirected, even on a terminal type that has colours' {
        $results = Join-Path $TestDrive 'results'
        $null = New-Item -ItemType Directory -Path $results -Force
        # The child inherits this environment: no CI or NO_COLOR (either turns colour off on its own), and a TERM
        # with colours, as in a terminal whose output is piped to a log. Invoke-FreshPwsh reads the child's
        # output through pipes, so the runner's output is redirected.
        $saved = @{ CI = $env:CI; NO_COLOR = $env:NO_COLOR; TERM = $env:TERM }
        try {
            Remove-Item Env:CI, Env:NO_COLOR -ErrorAction Ignore
            $env:TERM = 'xterm-256color'
            $run = Invoke-FreshPwsh -Timeout 120 -Script "& '$runner' -PesterPath '$pesterPath' -TestPath '$testFolder' -ResultDirectory '$results'; exit `$LASTEXITCODE"
        }
        finally {
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }

        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        ($run.Output -join "`n") | Should -Match '\[\+\] passes'
        ($run.Output -join "`n") | Should -Match 'WARNING: a warning from a test'
        ($run.Output -join "`n").Contains([char]27) | Should -BeFalse -Because 'a redirected log must not hold escape codes'
        (Get-Content -Raw -LiteralPath (Join-Path $results 'Pester.summary.json') | ConvertFrom-Json).Passed | Should -Be 1
    }
}
