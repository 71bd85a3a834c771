# Get-Tunnel: the session's tunnels across commands; -Name with wildcards; the completer.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $site.Stop()
}

Describe 'Get-Tunnel' {
    BeforeAll {
        $blog = Start-Tunnel -Http $site.Port -Name 'blog'
        $api = Start-Tunnel -Http $site.Port -Scheme http -Name 'api'
    }

    It 'lists every URL of the session, as the same objects Start-Tunnel wrote' {
        $all = Get-Tunnel
        $all | Should -HaveCount 3
        $all[0] | Should -Be $blog[0]
        $all[1] | Should -Be $blog[1]
        $all[2] | Should -Be $api
    }

    It 'selects by -Name with wildcards' {
        (Get-Tunnel -Name 'b*').Name | Should -Be @('blog', 'blog')
        Get-Tunnel api | Should -Be $api
    }

    It 'writes TunnelNotFound for a plain name without a tunnel, nothing for an unmatched wildcard' {
        Get-Tunnel -Name 'nope' -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.GetTunnelCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'

        Get-Tunnel -Name 'nope*' -ErrorVariable none | Should -BeNullOrEmpty
        $none | Should -HaveCount 0
    }

    It 'shows live status and counts' {
        $null = Invoke-TestRequest $api.PublicUrl
        Wait-Until { (Get-Tunnel api).ConnectionCount -ge 1 } -Timeout 5 -Because 'the request is counted'
        (Get-Tunnel api).Status | Should -Be 'Online'
    }

    It 'formats as a table with the public URL' {
        $text = Get-Tunnel | Out-String
        $text | Should -BeLike '*PublicUrl*'
        $text | Should -BeLike "*$($api.PublicUrl)*"
    }

    It 'completes -Name from the session''s tunnel names' {
        $line = 'Get-Tunnel -Name b'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Be @('blog')

        $line = 'Stop-Tunnel -Name '
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Be @('blog', 'api')
    }

    It 'quotes completions that need it' {
        $spaced = Start-Tunnel -Http $site.Port -Scheme http -Name 'my site'
        try {
            $line = 'Get-Tunnel -Name my'
            $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
            $completion.CompletionMatches.CompletionText | Should -Be @("'my site'")
        }
        finally { $spaced | Stop-Tunnel }
    }

    It 'no longer lists a stopped tunnel' {
        $api | Stop-Tunnel
        (Get-Tunnel).Name | Should -Not -Contain 'api'
    }
}
