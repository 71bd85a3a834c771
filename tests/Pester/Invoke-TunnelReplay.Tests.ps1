# Invoke-TunnelReplay end to end: requests captured through a real tunnel are re-sent to the
# local service (whose hit count proves they arrived), optionally modified.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -StatusCode 500 -Body 'broken'
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'replay'
    $url = $tunnel.PublicUrl
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Invoke-TunnelReplay' {
    BeforeEach {
        Clear-TunnelRequest
        $site.StatusCode = 500
    }

    It 'replays failed requests with: Get-TunnelRequest | Where Status -eq 500 | Invoke-TunnelReplay' {
        $response = Invoke-TestRequest "$url/hook" -Method POST -Body '{"event":"push"}' -ContentType 'application/json'
        $response.StatusCode | Should -Be 500
        Wait-Until { @(Get-TunnelRequest -Tunnel replay).Count -ge 1 } -Because 'the request is captured'
        $original = Get-TunnelRequest -Tunnel replay
        $hits = $site.RequestCount

        $replay = Get-TunnelRequest | Where Status -eq 500 | Invoke-TunnelReplay

        $site.RequestCount | Should -Be ($hits + 1)
        $replay | Should -BeOfType ([TunnelPS.TunnelRequest])
        $replay.IsReplay | Should -BeTrue
        $replay.ReplayOf | Should -Be $original.Id
        $replay.Tunnel | Should -Be 'replay'
        $replay.Method | Should -Be 'POST'
        $replay.Path | Should -Be '/hook'
        $replay.Status | Should -Be 500
        $replay.RequestBodyText | Should -Be '{"event":"push"}'
        $replay.ResponseBodyText | Should -Be 'broken'
        $site.Requests.ToArray()[-1].Path | Should -Be '/hook'
        # Kept in the same tunnel's capture.
        (Get-TunnelRequest -Tunnel replay | Where-Object IsReplay).Id | Should -Be $replay.Id
    }

    It 'sends the same on every run of the line: replays of originals only, not the replays of the runs before' {
        $null = Invoke-TestRequest "$url/again/a" -Method POST -Body 'a'
        $null = Invoke-TestRequest "$url/again/b" -Method POST -Body 'b'
        Wait-Until { @(Get-TunnelRequest -Tunnel replay).Count -ge 2 } -Because 'both requests are captured'
        $originals = @(Get-TunnelRequest -Tunnel replay)

        foreach ($run in 1..3) {
            $hits = $site.RequestCount
            $replays = @(Get-TunnelRequest | Where Status -eq 500 | Invoke-TunnelReplay)

            $replays.ReplayOf | Should -Be $originals.Id -Because "run $run replays the two originals, no replay of an earlier run"
            $site.RequestCount | Should -Be ($hits + 2) -Because "run $run sends what the first run sent"
        }
        @(Get-TunnelRequest -Tunnel replay | Where-Object IsReplay) | Should -HaveCount 6
    }

    It 'replays the replays too with -IncludeReplay' {
        $null = Invoke-TestRequest "$url/include" -Method POST -Body 'i'
        Wait-Until { @(Get-TunnelRequest -Tunnel replay).Count -ge 1 } -Because 'the request is captured'
        $original = Get-TunnelRequest -Tunnel replay
        $first = Get-TunnelRequest | Where Status -eq 500 | Invoke-TunnelReplay
        $hits = $site.RequestCount

        $second = @(Get-TunnelRequest | Where Status -eq 500 | Invoke-TunnelReplay -IncludeReplay)

        $second.ReplayOf | Should -Be @($original.Id, $first.Id)
        $site.RequestCount | Should -Be ($hits + 2)
    }

    It 'says why it sent nothing when it was given only replays (by -Id or from the pipeline)' {
        $null = Invoke-TestRequest "$url/only-replays"
        Wait-Until { @(Get-TunnelRequest -Tunnel replay).Count -ge 1 } -Because 'the request is captured'
        $original = Get-TunnelRequest -Tunnel replay
        $replay = $original | Invoke-TunnelReplay
        $hits = $site.RequestCount

        $byId = Invoke-TunnelReplay -Id $replay.Id -WarningVariable idWarning -WarningAction SilentlyContinue
        $piped = $replay | Invoke-TunnelReplay -WarningVariable pipeWarning -WarningAction SilentlyContinue

        $byId | Should -BeNullOrEmpty
        $piped | Should -BeNullOrEmpty
        $site.RequestCount | Should -Be $hits
        "$idWarning" | Should -Be "Sent nothing: request $($replay.Id) is itself a replay (of request $($original.Id)), and replays are replayed only with -IncludeReplay. Replay the original (Invoke-TunnelReplay -Id $($original.Id)), or add -IncludeReplay."
        "$pipeWarning" | Should -Be "$idWarning"
    }

    It 'modifies method, path, headers and body' {
        $null = Invoke-TestRequest "$url/orig" -Method POST -Body 'old' -Headers @{ 'X-Remove-Me' = 'yes'; 'X-Keep' = 'kept' }
        Wait-Until { @(Get-TunnelRequest -Path '/orig').Count -ge 1 } -Because 'the request is captured'
        $site.StatusCode = 200

        $replay = Get-TunnelRequest -Path '/orig' | Invoke-TunnelReplay -Method PUT -Path '/changed?v=2' -Header @{ 'X-Added' = 'new'; 'X-Remove-Me' = $null } -Body 'new body'

        $replay.Method | Should -Be 'PUT'
        $replay.Target | Should -Be '/changed?v=2'
        $replay.Status | Should -Be 200
        $replay.RequestBodyText | Should -Be 'new body'
        $replay.RequestHeaders['X-Added'] | Should -Be 'new'
        $replay.RequestHeaders['X-Keep'] | Should -Be 'kept'
        $replay.RequestHeaders.Contains('X-Remove-Me') | Should -BeFalse
        $received = $site.Requests.ToArray()[-1]
        $received.Method | Should -Be 'PUT'
        $received.Path | Should -Be '/changed?v=2'
        $received.Head | Should -Match 'X-Added: new'
        $received.Head | Should -Not -Match 'X-Remove-Me'
        $received.Head | Should -Match 'Content-Length: 8'
    }

    It 'takes a byte[] body and replays by -Id' {
        $null = Invoke-TestRequest "$url/bytes"
        Wait-Until { @(Get-TunnelRequest -Path '/bytes').Count -ge 1 } -Because 'the request is captured'
        $id = (Get-TunnelRequest -Path '/bytes').Id

        $replay = Invoke-TunnelReplay -Id $id -Tunnel replay -Method POST -Body ([byte[]](0, 1, 2, 255))

        $replay.RequestBody | Should -Be ([byte[]](0, 1, 2, 255))
        $replay.ReplayOf | Should -Be $id
    }

    It 'sends nothing with -WhatIf' {
        $null = Invoke-TestRequest "$url/whatif"
        Wait-Until { @(Get-TunnelRequest -Path '/whatif').Count -ge 1 } -Because 'the request is captured'
        $hits = $site.RequestCount

        $result = Get-TunnelRequest -Path '/whatif' | Invoke-TunnelReplay -WhatIf -Header @{ 'X-A' = '1' }

        $result | Should -BeNullOrEmpty
        $site.RequestCount | Should -Be $hits
        @(Get-TunnelRequest -Tunnel replay | Where-Object IsReplay) | Should -HaveCount 0
    }

    It 'writes ReplayFailed when the target refuses the connection' {
        $null = Invoke-TestRequest "$url/refused"
        Wait-Until { @(Get-TunnelRequest -Path '/refused').Count -ge 1 } -Because 'the request is captured'
        $closedPort = Get-FreeTcpPort

        $null = Get-TunnelRequest -Path '/refused' | Invoke-TunnelReplay -Uri "http://127.0.0.1:$closedPort" -ErrorVariable failed -ErrorAction SilentlyContinue

        $failed[0].FullyQualifiedErrorId | Should -Be 'ReplayFailed,TunnelPS.Commands.InvokeTunnelReplayCommand'
        $failed[0].CategoryInfo.Category | Should -Be 'ConnectionError'
    }

    It 'completes -Id with the captured ids, newest first, each with its method, path and status as tooltip' {
        $null = Invoke-TestRequest "$url/first?a=1"
        $null = Invoke-TestRequest "$url/second" -Method POST -Body 'x'
        Wait-Until { @(Get-TunnelRequest -Tunnel replay).Count -ge 2 } -Because 'both requests are captured'
        $first, $second = Get-TunnelRequest -Tunnel replay

        $line = 'Invoke-TunnelReplay -Tunnel replay -Id '
        $matches = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches

        $matches.CompletionText | Should -Be @("$($second.Id)", "$($first.Id)")
        $matches.ToolTip | Should -Be @("POST /second → $($second.Status)", "GET /first?a=1 → $($first.Status)")
        $matches[0].ResultType | Should -Be 'ParameterValue'

        $line = "Invoke-TunnelReplay -Id $($first.Id)"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain "$($first.Id)"
        $line = 'Invoke-TunnelReplay -Tunnel no-such-tunnel -Id '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | Should -BeNullOrEmpty
    }

    It 'writes RequestNotFound for an unknown -Id' {
        $null = Invoke-TunnelReplay -Id 987654 -ErrorVariable notFound -ErrorAction SilentlyContinue
        $notFound[0].FullyQualifiedErrorId | Should -Be 'RequestNotFound,TunnelPS.Commands.InvokeTunnelReplayCommand'
    }
}
