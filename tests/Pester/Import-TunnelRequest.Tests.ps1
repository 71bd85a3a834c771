# Import-TunnelRequest: the HAR round trip (export, re-import, replay with -Uri once the tunnel
# is gone) against real traffic through a real tunnel.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body 'round trip'
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Import-TunnelRequest' {
    It 'round-trips through HAR and replays the imported request with -Uri' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-import'
        $null = Invoke-TestRequest "$($tunnel.PublicUrl)/orders?id=7" -Method POST -Body '{"id":7}' -ContentType 'application/json' -Headers @{ 'X-Trace' = 't1' }
        Wait-Until { @(Get-TunnelRequest -Tunnel 'req-import').Count -ge 1 } -Because 'the request is captured'
        $original = Get-TunnelRequest -Tunnel 'req-import'
        $path = Join-Path $TestDrive 'roundtrip.har'
        $original | Export-TunnelRequest -Path $path
        $tunnel | Stop-Tunnel
        Clear-TunnelRequest -All

        $imported = Import-TunnelRequest -Path $path

        $imported | Should -BeOfType ([TunnelPS.TunnelRequest])
        $imported.Method | Should -Be 'POST'
        $imported.Target | Should -Be '/orders?id=7'
        $imported.Status | Should -Be 200
        $imported.Tunnel | Should -Be 'req-import'
        $imported.RequestBodyText | Should -Be '{"id":7}'
        $imported.ResponseBodyText | Should -Be 'round trip'
        $imported.RequestHeaders['X-Trace'] | Should -Be 't1'
        # Imported requests are kept apart from live captures: -Source Imported (or All) lists them.
        Get-TunnelRequest -Path '/orders' | Should -BeNullOrEmpty
        (Get-TunnelRequest -Path '/orders' -Source Imported).Id | Should -Be $imported.Id
        (Get-TunnelRequest -Path '/orders' -Source All).Id | Should -Be $imported.Id
        $imported.IsImported | Should -BeTrue

        # Its tunnel is gone: without -Uri there is nowhere to send it.
        $null = $imported | Invoke-TunnelReplay -ErrorVariable noTarget -ErrorAction SilentlyContinue
        $noTarget[0].FullyQualifiedErrorId | Should -Be 'ReplayTargetUnknown,TunnelPS.Commands.InvokeTunnelReplayCommand'

        $hits = $site.RequestCount
        $replay = $imported | Invoke-TunnelReplay -Uri $site.Url

        $site.RequestCount | Should -Be ($hits + 1)
        $replay.IsReplay | Should -BeTrue
        $replay.ReplayOf | Should -Be $imported.Id
        $replay.Status | Should -Be 200
        $replay.RequestBodyText | Should -Be '{"id":7}'
        $site.Requests.ToArray()[-1].Path | Should -Be '/orders?id=7'
    }

    It 'writes ImportFailed for a file that is not HAR, and goes on with the next' {
        $bad = Join-Path $TestDrive 'bad.har'
        Set-Content -LiteralPath $bad -Value '{ "not": "har" }'
        $good = Join-Path $TestDrive 'roundtrip.har'

        $result = @(Import-TunnelRequest -Path $bad, $good -ErrorVariable failed -ErrorAction SilentlyContinue)

        $failed[0].FullyQualifiedErrorId | Should -Be 'ImportFailed,TunnelPS.Commands.ImportTunnelRequestCommand'
        $failed[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $failed[0].TargetObject | Should -Be $bad
        $failed[0].Exception.Message | Should -Be "Cannot import '$bad': The file is not a HAR archive: log.entries is missing."
        $result | Should -HaveCount 1
    }

    It 'streams a HAR far larger than the capture budget, keeps the newest within it and says what was dropped' {
        # The budget live traffic uses: a tunnel's -InspectMemoryLimit (the imported requests share it, never widen it).
        $budgeted = Start-Tunnel -Http $site.Port -Scheme http -Name 'import-budget' -InspectMemoryLimit 300KB
        $path = Join-Path $TestDrive 'big.har'
        $body = 'b' * 4KB
        $writer = [System.IO.StreamWriter]::new($path)
        try {
            $writer.Write('{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[')
            foreach ($i in 0..1999) {
                if ($i) { $writer.Write(',') }
                $writer.Write('{"startedDateTime":"2026-01-01T00:00:00Z","time":1,"request":{"method":"POST","url":"http://big.localhost/e/' + $i + '","httpVersion":"HTTP/1.1","headers":[],"postData":{"mimeType":"text/plain","text":"' + $body + '"}},"response":{"status":200,"statusText":"OK","headers":[],"content":{"size":0}},"timings":{"wait":1}}')
            }
            $writer.Write(']}}')
        }
        finally {
            $writer.Dispose()
        }
        (Get-Item $path).Length | Should -BeGreaterThan (20 * 300KB)

        $imported = @(Import-TunnelRequest -Path $path -WarningVariable warned -WarningAction SilentlyContinue)

        $held = @(Get-TunnelRequest -Source Imported)
        $imported.Count | Should -Be $held.Count
        $imported.Count | Should -BeLessThan 100
        $imported[-1].Target | Should -Be '/e/1999'
        ($held | ForEach-Object { $_.RequestBody.Length } | Measure-Object -Sum).Sum | Should -BeLessOrEqual 300KB
        $warned | Should -HaveCount 1
        $dropped = (2000 - $imported.Count).ToString('N0', [cultureinfo]::InvariantCulture)
        "$($warned[0])" | Should -BeLike "*kept the newest $($imported.Count) of the 2,000 requests of '*big.har': $dropped older ones were dropped*"
        "$($warned[0])" | Should -Match '-InspectMemoryLimit'
        $budgeted | Stop-Tunnel
    }

    It 'writes ImportFailed for a missing file' {
        $null = Import-TunnelRequest -Path (Join-Path $TestDrive 'missing.har') -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -Be 'ImportFailed,TunnelPS.Commands.ImportTunnelRequestCommand'
    }
}
