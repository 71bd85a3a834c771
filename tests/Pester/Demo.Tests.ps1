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
