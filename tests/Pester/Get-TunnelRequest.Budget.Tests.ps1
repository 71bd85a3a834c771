# The capture's memory budget as a user meets it: Start-Tunnel -InspectMemoryLimit, the oldest requests evicted to stay
# within it, Get-TunnelRequest's one warning about what was dropped, Get-Tunnel's capture figures, and Clear-TunnelRequest
# giving the memory back.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    # 100 KiB bodies: each is held in two 64 KiB chunks, so two fit in 300 KiB and a third does not.
    $site = Start-TestHttpSite -Body ('x' * 100KB)
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $site.Stop()
}

Describe 'Get-TunnelRequest with a capture memory budget' {
    BeforeAll {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'budget' -InspectMemoryLimit 300KB
        foreach ($i in 1..5) {
            (Invoke-TestRequest "$($tunnel.PublicUrl)/file/$i").StatusCode | Should -Be 200
        }
        Wait-Until { $tunnel.CaptureDroppedCount -eq 3 } -Because 'the capture evicted the three oldest requests'
    }

    It 'keeps the newest requests whole within the budget' {
        $kept = Get-TunnelRequest -Tunnel budget -WarningAction SilentlyContinue

        $kept.Target | Should -Be @('/file/4', '/file/5')
        $kept | ForEach-Object { $_.ResponseBody.Length | Should -Be 100KB }
        $tunnel.CapturedCount | Should -Be 2
        $tunnel.CaptureBytes | Should -BeLessOrEqual 300KB
        $tunnel.CaptureBytes | Should -BeGreaterOrEqual 200KB
        $tunnel.CaptureDroppedBytes | Should -BeGreaterOrEqual 300KB
    }

    It 'warns once about what was dropped: how many, the limits, and how to keep more' {
        $null = Invoke-TestRequest "$($tunnel.PublicUrl)/file/6"
        Wait-Until { $tunnel.CaptureDroppedCount -eq 4 } -Because 'one more request was evicted'

        $null = Get-TunnelRequest -Tunnel budget -WarningVariable first -WarningAction SilentlyContinue
        $null = Get-TunnelRequest -Tunnel budget -WarningVariable second -WarningAction SilentlyContinue

        $first | Should -HaveCount 1
        "$($first[0])" | Should -Match "^The capture of tunnel 'budget' dropped \d older request\(s\) to stay within its limits of 1000 requests and 300 KiB \(4 request\(s\), \d+(\.\d)? KiB dropped in all\)\. Start-Tunnel -InspectLimit and -InspectMemoryLimit keep more"
        $second | Should -BeNullOrEmpty
    }

    It 'gives the memory back on Clear-TunnelRequest' {
        Clear-TunnelRequest -Tunnel budget

        $tunnel.CapturedCount | Should -Be 0
        $tunnel.CaptureBytes | Should -Be 0
        Get-TunnelRequest -Tunnel budget | Should -BeNullOrEmpty
    }

    It 'takes the budget of a named tunnel from inspect_memory_limit in the config file' {
        $config = Join-Path $TestDrive 'budget.yml'
        Set-Content -LiteralPath $config -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
tunnels:
  cfgbudget: { proto: { http: $($site.Port) }, inspect_memory_limit: 300KiB }
"@
        $named = Start-Tunnel -Name 'cfgbudget' -ConfigPath $config
        try {
            foreach ($i in 1..5) { $null = Invoke-TestRequest "$($named.PublicUrl)/file/$i" }
            Wait-Until { $named.CaptureDroppedCount -eq 3 } -Because 'the config''s 300 KiB holds two 100 KiB bodies'

            $named.CapturedCount | Should -Be 2
            (Get-TunnelConfig -ConfigPath $config).Tunnels[0].InspectMemoryLimit | Should -Be 300KB
        }
        finally { $named | Stop-Tunnel }
    }

    It 'refuses a budget below 64 KiB with a parameter validation error' {
        { Start-Tunnel -Http $site.Port -Name 'tiny' -InspectMemoryLimit 1KB } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,TunnelPS.Commands.StartTunnelCommand'
    }
}

Describe 'One capture memory budget for all the tunnels of a session' {
    BeforeAll {
        Get-Tunnel | Stop-Tunnel
        Clear-TunnelRequest -All   # only this block's tunnels share the session's budget
        $left = Start-Tunnel -Http $site.Port -Scheme http -Name 'shared-left' -InspectMemoryLimit 300KB
        $right = Start-Tunnel -Http $site.Port -Scheme http -Name 'shared-right' -InspectMemoryLimit 300KB
        foreach ($i in 1..3) {
            (Invoke-TestRequest "$($left.PublicUrl)/left/$i").StatusCode | Should -Be 200
            (Invoke-TestRequest "$($right.PublicUrl)/right/$i").StatusCode | Should -Be 200
        }
        Wait-Until { ($left.CaptureDroppedCount + $right.CaptureDroppedCount) -eq 4 } -Because 'together the two tunnels keep two 100 KiB bodies'
    }

    AfterAll {
        $left, $right | Stop-Tunnel
        Clear-TunnelRequest -All
    }

    It 'holds at most the largest limit together, the oldest request of either tunnel going first' {
        # Each alone would keep two requests (600 KiB in all); together they keep the two newest of all.
        ($left.CaptureBytes + $right.CaptureBytes) | Should -BeLessOrEqual 300KB
        @(Get-TunnelRequest -Tunnel 'shared-*' -WarningAction SilentlyContinue).Target | Sort-Object | Should -Be @('/left/3', '/right/3')
    }
}
