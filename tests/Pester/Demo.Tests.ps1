# The README's main command runs build/Demo.ps1: it must print the public URLs and a 200 through each.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $repoRoot = Resolve-Path (Join-Path $PSScriptRoot '../..')
    $manifest = Join-Path $repoRoot 'out/TunnelPS/TunnelPS.psd1'
    $demo = Join-Path $repoRoot 'build/Demo.ps1'
}

Describe 'build/Demo.ps1' {
    It 'opens a tunnel on the embedded defaults (or free ports) and fetches the site through each public URL' {
        $run = Invoke-FreshPwsh -Script "& '$demo' -ModulePath '$manifest'" -Timeout 120

        $text = $run.Output -join "`n"
        $run.ExitCode | Should -Be 0 -Because $text
        $text | Should -Match 'Public URL|PublicUrl'
        ([regex]::Matches($text, 'GET https?://[a-z0-9]+\.localhost:\d+ -> 200 Hello from TunnelPS demo')).Count | Should -Be 2
    }
}

Describe 'build.ps1 Demo' {
    It 'builds only what the demo runs: a copy of the repository without tests, fuzzing or benchmarks shows a tunnel' {
        # The solution names the test, fuzzing and benchmark projects; the copy leaves them out, so a demo that built
        # the whole solution fails here, and one that builds the module alone passes (and spends no time on them).
        $repoRoot = Resolve-Path (Join-Path $PSScriptRoot '../..')
        $copy = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-demo-' + [guid]::NewGuid())
        $null = New-Item -ItemType Directory -Path $copy
        try {
            foreach ($item in '.config', 'build', 'module', 'docs', 'build.ps1', 'Directory.Build.props', 'Directory.Packages.props', 'TunnelPS.sln') {
                Copy-Item -LiteralPath (Join-Path $repoRoot $item) -Destination $copy -Recurse
            }
            $src = (Join-Path $repoRoot 'src').ToString()
            Get-ChildItem -LiteralPath $src -Recurse -File |
                Where-Object { $_.FullName.Substring($src.Length) -notmatch '[\\/](bin|obj)[\\/]' } |
                ForEach-Object {
                    $target = Join-Path $copy ('src' + $_.FullName.Substring($src.Length))
                    $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $target)
                    Copy-Item -LiteralPath $_.FullName -Destination $target
                }

            $run = Invoke-FreshPwsh -Script "Set-Location -LiteralPath '$copy'; & ./build.ps1 Demo; exit `$LASTEXITCODE" -Timeout 400

            # Plain text for the report: a failure message with terminal escapes is not valid in the NUnit XML.
            $text = ($run.Output -join "`n") -replace '\x1b\[[0-9;?]*[ -/]*[@-~]', '' -replace '[\x00-\x08\x0b\x0c\x0e-\x1f]', ''
            $run.ExitCode | Should -Be 0 -Because $text
            $text | Should -Match 'the module only'
            ([regex]::Matches($text, 'GET https?://[a-z0-9]+\.localhost:\d+ -> 200 Hello from TunnelPS demo')).Count | Should -Be 2
        }
        finally {
            Remove-Item -LiteralPath $copy -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
