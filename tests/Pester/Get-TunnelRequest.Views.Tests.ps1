# How captured requests look and where they come from: the table marks replays, imports and failures; imported
# requests are kept apart from live captures (Get-TunnelRequest -Source Live|Imported|All, Live by default).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    $site = Start-TestHttpSite -Body 'view'
    $tunnel = Start-Tunnel -Http $site.Port -Name 'views'
    $https = ($tunnel | Where-Object Protocol -eq 'https').PublicUrl
    $null = Invoke-TestRequest "$https/report?year=2026&q=a%20b" -SkipCertificateCheck
    Wait-Until { @(Get-TunnelRequest -Tunnel 'views').Count -eq 1 } -Because 'the request is captured'
    $original = Get-TunnelRequest -Tunnel 'views'
    $replay = $original | Invoke-TunnelReplay
    $har = Join-Path $TestDrive 'views.har'
    $original | Export-TunnelRequest -Path $har
    $imported = Import-TunnelRequest -Path $har
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Get-TunnelRequest table' {
    It 'shows the id, the scheme and the target with its query, and marks a replay with the id it replays' {
        $text = Get-TunnelRequest -Tunnel 'views' | Format-Table | Out-String -Width 200

        $text | Should -Match 'Id\s+Method\s+Scheme\s+Target\s+Status\s+Duration\(ms\)\s+Tunnel\s+Note'
        $text | Should -Match "(?m)^\s*$($original.Id)\s+GET\s+https\s+/report\?year=2026&q=a%20b\s+200\s+[\d.]+\s+views\s*$"
        $text | Should -Match "(?m)^\s*$($replay.Id)\s+GET\s+\S*\s+/report\?year=2026&q=a%20b\s+200\s+[\d.]+\s+views\s+replay of #$($original.Id)\s*$"
    }

    It 'marks an imported request, and a request the client answered itself' {
        $down = Start-Tunnel -Http (Get-FreeTcpPort) -Scheme http -Name 'views-down'
        try {
            $null = Invoke-TestRequest "$($down.PublicUrl)/gone"
            Wait-Until { @(Get-TunnelRequest -Tunnel 'views-down').Count -eq 1 } -Because 'the refused request is captured'

            $text = @($imported) + @(Get-TunnelRequest -Tunnel 'views-down') | Format-Table | Out-String -Width 200

            $text | Should -Match "(?m)^\s*$($imported.Id)\s+GET\s+https\s+/report\?year=2026&q=a%20b\s+200\s+[\d.]+\s+views\s+imported\s*$"
            $text | Should -Match "(?m)^\s*\d+\s+GET\s+http\s+/gone\s+502\s+[\d.]+\s+views-down\s+error\s*$"
        }
        finally { $down | Stop-Tunnel -WarningAction SilentlyContinue }
    }
}

Describe 'Get-TunnelRequest -Source' {
    It 'lists only live captures by default: replays yes, imported requests no' {
        $live = Get-TunnelRequest -Tunnel 'views'

        $live.Id | Should -Be @($original.Id, $replay.Id)
        $live.IsImported | Should -Not -Contain $true
    }

    It 'lists imported requests with -Source Imported, and both with -Source All' {
        (Get-TunnelRequest -Source Imported).Id | Should -Be @($imported.Id)
        # Ordered by start time: the imported copy has the original's (to the HAR's millisecond).
        (Get-TunnelRequest -Tunnel 'views' -Source All).Id | Sort-Object | Should -Be @($original.Id, $replay.Id, $imported.Id)
    }

    It 'finds any request by -Id without -Source, and says where to look when -Source excludes it' {
        (Get-TunnelRequest -Id $imported.Id).IsImported | Should -BeTrue

        $null = Get-TunnelRequest -Id $imported.Id -Source Live -ErrorVariable notFound -ErrorAction SilentlyContinue

        $notFound | Should -HaveCount 1
        $notFound[0].FullyQualifiedErrorId | Should -Be 'RequestNotFound,TunnelPS.Commands.GetTunnelRequestCommand'
        $notFound[0].Exception.Message | Should -Be "No live request has id $($imported.Id). It is not among the live requests: use -Source All."
    }

    It 'tells to use -Source Imported for a tunnel only imported requests name' {
        $har = Join-Path $TestDrive 'other.har'
        Get-TunnelRequest -Id $original.Id | Export-TunnelRequest -Path $har
        (Get-Content -Raw $har).Replace('"views"', '"elsewhere"') | Set-Content -LiteralPath $har -Encoding utf8NoBOM
        $other = Import-TunnelRequest -Path $har
        $other.Tunnel | Should -Be 'elsewhere'

        $null = Get-TunnelRequest -Tunnel 'elsewhere' -ErrorVariable failed -ErrorAction SilentlyContinue
        (Get-TunnelRequest -Tunnel 'elsewhere' -Source Imported).Id | Should -Be @($other.Id)

        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.GetTunnelRequestCommand'
        $failed[0].Exception.Message | Should -Be "No tunnel named 'elsewhere' runs or has captured requests in this session, but imported requests name it: use -Source Imported (or All)."
    }

    It 'refuses a -Source that is not Live, Imported or All' {
        { Get-TunnelRequest -Source Archive } | Should -Throw -ErrorId 'ParameterArgumentValidationError,TunnelPS.Commands.GetTunnelRequestCommand'
    }
}
