# Get-TunnelRequest end to end: real requests through a real tunnel, then filters and the
# TunnelRequest properties; the Tunnel.RequestCaptured event.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body '{"ok":true}' -ContentType 'application/json; charset=utf-8'
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-get'
    $url = $tunnel.PublicUrl

    $before = [DateTimeOffset]::Now
    $null = Invoke-TestRequest "$url/one" -Headers @{ 'X-Test' = 'first' }
    $null = Invoke-TestRequest "$url/api/items?id=3" -Method POST -Body 'payload'
    $site.StatusCode = 404
    $null = Invoke-TestRequest "$url/missing"
    $site.StatusCode = 200
    Wait-Until { @(Get-TunnelRequest -Tunnel 'req-get').Count -ge 3 } -Because 'three requests are captured'
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Get-TunnelRequest' {
    It 'returns TunnelRequest objects, newest last' {
        $all = @(Get-TunnelRequest -Tunnel 'req-get')

        $all | Should -HaveCount 3
        $all | ForEach-Object { $_ | Should -BeOfType ([TunnelPS.TunnelRequest]) }
        $all.Path | Should -Be @('/one', '/api/items', '/missing')
        $all[0].StartTime | Should -BeLessOrEqual $all[2].StartTime
    }

    It 'maps the exchange: int status, url, headers by name, bodies and their text' {
        $post = Get-TunnelRequest -Method POST

        $post.Status | Should -BeOfType ([int])
        $post.Status | Should -Be 200
        $post.Reason | Should -Be 'OK'
        $post.Tunnel | Should -Be 'req-get'
        $post.Target | Should -Be '/api/items?id=3'
        $post.Url | Should -Be "$url/api/items?id=3"
        $post.RequestBodyText | Should -Be 'payload'
        $post.RequestBody | Should -Be ([System.Text.Encoding]::UTF8.GetBytes('payload'))
        $post.ResponseBodyText | Should -Be '{"ok":true}'
        $post.IsJson | Should -BeTrue
        $post.ContentType | Should -BeLike 'application/json*'
        $post.ResponseHeaders['content-type'] | Should -BeLike 'application/json*'
        $post.RequestHeaders[0].Name | Should -Be 'Host'
        $post.Duration | Should -BeOfType ([timespan])
        $post.ClientAddress | Should -Match '^127\.0\.0\.1:\d+$'
        $post.IsReplay | Should -BeFalse
        $post.Truncated | Should -BeFalse
        $post.BytesIn | Should -BeGreaterThan 0
        (Get-TunnelRequest -Path '/one').RequestHeaders['X-Test'] | Should -Be 'first'
    }

    It 'filters by method, path wildcard, status, id, since, first and last' {
        (Get-TunnelRequest -Method post).Path | Should -Be '/api/items'
        (Get-TunnelRequest -Path '/api/*').Path | Should -Be '/api/items'
        (Get-TunnelRequest -Status 404).Path | Should -Be '/missing'
        @(Get-TunnelRequest -Status 200, 404) | Should -HaveCount 3
        $ids = @(Get-TunnelRequest).Id
        (Get-TunnelRequest -Id $ids[1]).Path | Should -Be '/api/items'
        @(Get-TunnelRequest -Since $before.DateTime.AddMinutes(-1)) | Should -HaveCount 3
        @(Get-TunnelRequest -Since ([datetime]::Now.AddMinutes(5))) | Should -HaveCount 0
        (Get-TunnelRequest -First 1).Path | Should -Be '/one'
        (Get-TunnelRequest -Last 1).Path | Should -Be '/missing'
        @(Get-TunnelRequest -Tunnel 'no-such-*') | Should -HaveCount 0
    }

    It 'takes tunnels from the pipeline (Get-Tunnel | Get-TunnelRequest), each request once' {
        $fromPipeline = @(Get-Tunnel -Name 'req-get' | Get-TunnelRequest)
        $fromPipeline.Id | Should -Be @(Get-TunnelRequest -Tunnel 'req-get').Id
    }

    It 'works with Where-Object on Status as typed in the docs' {
        (Get-TunnelRequest | Where Status -eq 404).Path | Should -Be '/missing'
    }

    It 'writes RequestNotFound for an id that is not held' {
        $null = Get-TunnelRequest -Id 999999 -ErrorVariable notFound -ErrorAction SilentlyContinue
        $notFound[0].FullyQualifiedErrorId | Should -Be 'RequestNotFound,TunnelPS.Commands.GetTunnelRequestCommand'
    }

    It 'writes TunnelNotFound for a -Tunnel name that no tunnel of the session has, as Get-Tunnel does' {
        $found = @(Get-TunnelRequest -Tunnel 'no-such-tunnel', 'req-get' -ErrorVariable failed -ErrorAction SilentlyContinue)

        $found.Count | Should -BeGreaterOrEqual 3
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -Be 'TunnelNotFound,TunnelPS.Commands.GetTunnelRequestCommand'
        $failed[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failed[0].TargetObject | Should -Be 'no-such-tunnel'
        $failed[0].Exception.Message | Should -Be ("No tunnel named 'no-such-tunnel' runs or has captured requests in this session. " +
            'Get-Tunnel lists the running tunnels, and Get-TunnelRequest without -Tunnel every captured request.')
    }

    It 'writes no error for a wildcard that matches nothing, or a running tunnel that captures nothing' {
        $quiet = Start-Tunnel -Http $site.Port -Scheme http -NoInspect -Name 'req-quiet'
        try {
            Get-TunnelRequest -Tunnel 'nothing-*', 'req-quiet' -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $failed | Should -HaveCount 0
        }
        finally { $quiet | Stop-Tunnel }
    }

    It 'completes -Tunnel with http and https tunnels only, not tcp ones' {
        $echo = Start-TestTcpEchoServer
        $tcp = Start-Tunnel -Tcp $echo.Port -Name 'req-tcp'
        try {
            $line = 'Get-TunnelRequest -Tunnel req-'
            $matches = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
            $matches.CompletionText | Should -Be @('req-get')
            $matches[0].ToolTip | Should -Be "req-get: $url -> localhost:$($site.Port)"

            $line = 'Get-Tunnel -Name req-'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'req-tcp'
        }
        finally {
            $tcp | Stop-Tunnel
            $echo.Stop()
        }
    }

    It 'formats as a table with Id, Method, Scheme, Target (path and query), Status, Duration, Tunnel and Note' {
        $post = Get-TunnelRequest -Tunnel 'req-get' -Method POST

        $text = Get-TunnelRequest -Tunnel 'req-get' | Format-Table | Out-String -Width 200

        $text | Should -Match 'Id\s+Method\s+Scheme\s+Target\s+Status\s+Duration\(ms\)\s+Tunnel\s+Note'
        $text | Should -Match "(?m)^\s*$($post.Id)\s+POST\s+http\s+/api/items\?id=3\s+200\s+[\d.]+\s+req-get\s*$"
        $post.Scheme | Should -Be 'http'
    }
}

Describe 'Tunnel.RequestCaptured' {
    It 'fires for Register-ObjectEvent with the captured request' {
        $sourceId = 'capture-test-' + [guid]::NewGuid()
        $null = Register-ObjectEvent -InputObject $tunnel -EventName RequestCaptured -SourceIdentifier $sourceId
        try {
            $null = Invoke-TestRequest "$url/evented"
            $event = Wait-Event -SourceIdentifier $sourceId -Timeout 10
            $event | Should -Not -BeNullOrEmpty
            $event.Sender | Should -Be $tunnel
            $event.SourceEventArgs.Request | Should -BeOfType ([TunnelPS.TunnelRequest])
            $event.SourceEventArgs.Request.Path | Should -Be '/evented'
        }
        finally {
            Unregister-Event -SourceIdentifier $sourceId
            Get-Event -SourceIdentifier $sourceId -ErrorAction Ignore | Remove-Event
        }
    }
}

Describe 'After Stop-Tunnel' {
    It 'still lists the stopped tunnel''s requests' {
        $count = @(Get-TunnelRequest -Tunnel 'req-get').Count
        Get-Tunnel -Name 'req-get' | Stop-Tunnel

        @(Get-TunnelRequest -Tunnel 'req-get') | Should -HaveCount $count
    }
}
