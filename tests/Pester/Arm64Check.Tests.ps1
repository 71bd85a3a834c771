# build/Invoke-Arm64Check.ps1, which build.ps1's Arm64 and Test tasks run: without qemu-user it says what to install,
# and counts the check as skipped (Test) or failed (Arm64). The check itself runs in `build.ps1 Test`.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $script:repo = Get-RepositoryRoot
    $script:runner = Join-Path $script:repo 'build/Invoke-Arm64Check.ps1'

    function Invoke-WithoutQemu([switch] $SkipWhenMissing) {
        # No qemu-aarch64-static on this PATH (nor anything else): the check must stop before publishing.
        $saved = $env:PATH
        try {
            $env:PATH = Join-Path $TestDrive 'empty-path'
            & $script:runner -RepoRoot $script:repo -SkipWhenMissing:$SkipWhenMissing
        }
        finally { $env:PATH = $saved }
    }
}

Describe 'Invoke-Arm64Check.ps1' {
    It 'counts the arm64 check as skipped, with what to install, when qemu-user is missing and -SkipWhenMissing is given' {
        $result = Invoke-WithoutQemu -SkipWhenMissing

        $result.Skipped | Should -Be 1
        $result.Failed | Should -Be 0
        $result.Passed | Should -Be 0
        $result.Reason | Should -Match 'missing qemu-aarch64-static \(apt-get install -y qemu-user-static\)'
        $result.Reason | Should -Match '\.ci/run installs them'
    }

    It 'counts the arm64 check as failed when qemu-user is missing (the Arm64 task)' {
        $result = Invoke-WithoutQemu

        $result.Failed | Should -Be 1
        $result.Skipped | Should -Be 0
        $result.Reason | Should -Match 'qemu-aarch64-static'
    }
}
