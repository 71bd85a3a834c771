# The web inspector from PowerShell: Start-Tunnel's session inspector (-InspectAddress, inspect_addr, the default
# 127.0.0.1:4040 or the next free port, Tunnel.InspectUrl), its JSON API through Invoke-RestMethod, its access rules,
# and a second, real pwsh process reading and replaying this session's requests (Get-TunnelRequest -InspectUrl).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body '{"ok":true}' -ContentType 'application/json; charset=utf-8'
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'insp' -InspectAddress '127.0.0.1:0'
    $url = $tunnel.PublicUrl
    $base = $tunnel.InspectUrl
    $mutating = @{ 'X-TunnelPS-Request' = '1' }

    # True when something accepts TCP connections on 127.0.0.1:$Port.
    function Test-Listening([int] $Port) {
        $client = [System.Net.Sockets.TcpClient]::new()
        try { $client.Connect([System.Net.IPAddress]::Loopback, $Port); $true }
        catch [System.Net.Sockets.SocketException] { $false }
        catch { if ($_.Exception.InnerException -is [System.Net.Sockets.SocketException]) { $false } else { throw } }
        finally { $client.Dispose() }
    }

    # One Server-Sent Event from a stream: @{ Event = 'request'; Data = '{...}' }.
    function Read-ServerEvent([System.IO.StreamReader] $Reader, [System.Threading.CancellationToken] $Token) {
        $name = 'message'
        $data = [System.Text.StringBuilder]::new()
        while ($true) {
            $line = $Reader.ReadLineAsync($Token).AsTask().GetAwaiter().GetResult()
            if ($null -eq $line) { throw 'The event stream ended.' }
            if ($line -eq '') {
                if ($data.Length -gt 0 -or $name -ne 'message') { return @{ Event = $name; Data = $data.ToString() } }
                continue
            }
            if ($line.StartsWith(':')) { continue }
            if ($line.StartsWith('event:')) { $name = $line.Substring(6).Trim() }
            elseif ($line.StartsWith('data:')) { $null = $data.Append($line.Substring(5).TrimStart()) }
        }
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'The inspector''s JSON API through Invoke-RestMethod' {
    BeforeAll {
        Clear-TunnelRequest
        $site.StatusCode = 200
        $null = Invoke-TestRequest "$url/api/items?page=2" -Headers @{ 'X-Test' = 'first' }
        $null = Invoke-TestRequest "$url/api/orders" -Method POST -Body '{"item":"tea"}' -ContentType 'application/json'
        $site.StatusCode = 404
        $null = Invoke-TestRequest "$url/missing"
        $site.StatusCode = 200
        $null = Invoke-TestRequest "$url/bytes" -Method PUT -Body ([string][char]0xE9)
        Wait-Until { @(Get-TunnelRequest -Tunnel insp).Count -ge 4 } -Because 'four requests are captured'
    }

    It 'GET /api/tunnels and /api/tunnels/{name} describe the tunnel' {
        $list = Invoke-RestMethod "$base/api/tunnels"
        $list.uri | Should -Be '/api/tunnels'
        $one = @($list.tunnels) | Where-Object name -eq 'insp'
        $one.public_url | Should -Be $url
        $one.proto | Should -Be 'http'
        $one.config.addr | Should -Be "http://localhost:$($site.Port)"
        $one.status | Should -Be 'online'

        $named = Invoke-RestMethod "$base/api/tunnels/insp"
        $named.public_url | Should -Be $url
        $missing = Invoke-RestMethod "$base/api/tunnels/nope" -SkipHttpErrorCheck -StatusCodeVariable code
        $code | Should -Be 404
        $missing.msg | Should -Match 'nope'
    }

    It 'GET /api/requests/http lists newest first, filtered by tunnel_name, method, status, path and limit' {
        $all = (Invoke-RestMethod "$base/api/requests/http").requests
        @($all.request.uri) | Should -Be @('/bytes', '/missing', '/api/orders', '/api/items?page=2')
        $all[0].tunnel_name | Should -Be 'insp'
        $all[0].PSObject.Properties.Name | Should -Contain 'duration'

        @((Invoke-RestMethod "$base/api/requests/http?tunnel_name=insp").requests).Count | Should -Be 4
        @((Invoke-RestMethod "$base/api/requests/http?tunnel_name=other").requests).Count | Should -Be 0
        @((Invoke-RestMethod "$base/api/requests/http?method=post").requests.request.uri) | Should -Be @('/api/orders')
        @((Invoke-RestMethod "$base/api/requests/http?status=404").requests.request.uri) | Should -Be @('/missing')
        @((Invoke-RestMethod "$base/api/requests/http?status=2xx&limit=2").requests.request.uri) | Should -Be @('/bytes', '/api/orders')
        @((Invoke-RestMethod "$base/api/requests/http?path=/api/*").requests.request.uri) | Should -Be @('/api/orders', '/api/items?page=2')

        $bad = Invoke-RestMethod "$base/api/requests/http?status=abc" -SkipHttpErrorCheck -StatusCodeVariable code
        $code | Should -Be 400
        $bad.msg | Should -Match 'status'
    }

    It 'GET /api/requests/http/{id} has the bodies: raw as base64, and text when they are text' {
        $post = Get-TunnelRequest -Path '/api/orders'
        $detail = Invoke-RestMethod "$base/api/requests/http/$($post.Id)"
        $detail.id | Should -Be $post.Id
        $detail.request.method | Should -Be 'POST'
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($detail.request.body.raw)) | Should -Be '{"item":"tea"}'
        $detail.request.body.text | Should -Be '{"item":"tea"}'
        $detail.request.body.kind | Should -Be 'json'
        $detail.response.status_code | Should -Be 200
        $detail.response.body.text | Should -Be '{"ok":true}'
        @($detail.request.headers | Where-Object name -eq 'Content-Type').value | Should -Match 'application/json'

        $bytes = Get-TunnelRequest -Path '/bytes'
        $put = Invoke-RestMethod "$base/api/requests/http/$($bytes.Id)"
        [Convert]::FromBase64String($put.request.body.raw) | Should -Be ([Text.Encoding]::UTF8.GetBytes([string][char]0xE9))

        $none = Invoke-RestMethod "$base/api/requests/http/987654321" -SkipHttpErrorCheck -StatusCodeVariable code
        $code | Should -Be 404
        $none.msg | Should -Match '987654321'
    }

    It 'POST /api/requests/http replays a request with a new method, path, headers and body' {
        $original = Get-TunnelRequest -Path '/api/items*'
        $hits = $site.RequestCount
        $body = @{ id = $original.Id; method = 'PATCH'; path = '/api/items/7?v=2'; set_headers = @{ 'X-Added' = 'yes' }; remove_headers = @('X-Test'); body = 'changed' } | ConvertTo-Json

        $replay = Invoke-RestMethod "$base/api/requests/http" -Method Post -Body $body -ContentType 'application/json' -Headers $mutating -StatusCodeVariable code

        $code | Should -BeIn 200, 201
        $replay.is_replay | Should -BeTrue
        $replay.replay_of | Should -Be $original.Id
        $replay.request.method | Should -Be 'PATCH'
        $replay.request.uri | Should -Be '/api/items/7?v=2'
        $replay.request.body.text | Should -Be 'changed'
        @($replay.request.headers.name) | Should -Contain 'X-Added'
        @($replay.request.headers.name) | Should -Not -Contain 'X-Test'
        $site.RequestCount | Should -Be ($hits + 1)
        $seen = $site.Requests.ToArray()[-1]
        $seen.Method | Should -Be 'PATCH'
        $seen.Path | Should -Be '/api/items/7?v=2'
        $seen.Head | Should -Match 'X-Added: yes'
        $seen.Head | Should -Not -Match 'X-Test'
        # The replay is captured with the others, and the cmdlets see it.
        (Get-TunnelRequest -Id $replay.id).ReplayOf | Should -Be $original.Id
    }

    It 'GET /api/status reports the inspector' {
        $status = Invoke-RestMethod "$base/api/status"
        $status.inspect_url | Should -Be "$base/"
        $status.requests | Should -BeGreaterOrEqual 4
        $status.version | Should -Match '^\d+\.\d+\.\d+$'
    }

    It 'GET /api/events streams each new exchange as a Server-Sent Event' {
        $client = [System.Net.Http.HttpClient]::new([System.Net.Http.SocketsHttpHandler]@{ UseProxy = $false })
        $cts = [System.Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds(20))
        try {
            $request = [System.Net.Http.HttpRequestMessage]::new('GET', "$base/api/events")
            $response = $client.SendAsync($request, [System.Net.Http.HttpCompletionOption]::ResponseHeadersRead, $cts.Token).GetAwaiter().GetResult()
            $response.StatusCode | Should -Be 'OK'
            $response.Content.Headers.ContentType.MediaType | Should -Be 'text/event-stream'
            $reader = [System.IO.StreamReader]::new($response.Content.ReadAsStream())
            do { $event = Read-ServerEvent $reader $cts.Token } until ($event.Event -eq 'ready')

            $null = Invoke-TestRequest "$url/live-event" -Method POST -Body 'streamed'

            do { $event = Read-ServerEvent $reader $cts.Token } until ($event.Event -eq 'request')
            $data = $event.Data | ConvertFrom-Json
            $data.request.uri | Should -Be '/live-event'
            $data.tunnel_name | Should -Be 'insp'
            $data.response.status_code | Should -Be 200
        }
        finally {
            $cts.Dispose()
            $client.Dispose()
        }
    }

    It 'refuses a foreign Host (DNS rebinding), a foreign Origin, and a form-like call without X-TunnelPS-Request; sends no CORS headers' {
        $port = ([uri]$base).Port
        $rebound = Invoke-WebRequest "$base/api/requests/http" -Headers @{ Host = "attacker.example:$port" } -SkipHttpErrorCheck
        $rebound.StatusCode | Should -Be 403
        $rebound.Content | Should -Match 'Host'
        (Invoke-WebRequest "$base/" -Headers @{ Host = "attacker.example:$port" } -SkipHttpErrorCheck).StatusCode | Should -Be 403
        (Invoke-WebRequest "$base/api/status" -Headers @{ Host = "localhost:$port" }).StatusCode | Should -Be 200

        $foreign = Invoke-WebRequest "$base/api/requests/http" -Headers @{ Origin = 'http://attacker.example' } -SkipHttpErrorCheck
        $foreign.StatusCode | Should -Be 403

        $id = (Get-TunnelRequest -Path '/missing').Id
        $hits = $site.RequestCount
        $count = @(Get-TunnelRequest -Tunnel insp).Count
        # A cross-site form with enctype text/plain can carry a JSON text, but not as application/json.
        $noHeader = Invoke-WebRequest "$base/api/requests/http" -Method Post -Body (@{ id = $id } | ConvertTo-Json) -ContentType 'text/plain' -SkipHttpErrorCheck
        $noHeader.StatusCode | Should -Be 403
        $noHeader.Content | Should -Match 'X-TunnelPS-Request'
        # A DELETE or a JSON POST needs no header (ngrok's clients send none), but never from a foreign origin.
        (Invoke-WebRequest "$base/api/requests/http" -Method Delete -Headers @{ Origin = 'http://attacker.example' } -SkipHttpErrorCheck).StatusCode | Should -Be 403
        (Invoke-WebRequest "$base/api/requests/http" -Method Post -Body (@{ id = $id } | ConvertTo-Json) -ContentType 'application/json' -Headers @{ 'Sec-Fetch-Site' = 'cross-site' } -SkipHttpErrorCheck).StatusCode | Should -Be 403
        # A cross-site form post: a simple content type, no custom header.
        (Invoke-WebRequest "$base/api/requests/http" -Method Post -Body "id=$id" -ContentType 'application/x-www-form-urlencoded' -SkipHttpErrorCheck).StatusCode | Should -Be 403
        $site.RequestCount | Should -Be $hits
        @(Get-TunnelRequest -Tunnel insp).Count | Should -Be $count

        $preflight = Invoke-WebRequest "$base/api/requests/http" -Method Options -Headers @{ Origin = 'http://attacker.example'; 'Access-Control-Request-Method' = 'DELETE'; 'Access-Control-Request-Headers' = 'x-tunnelps-request' } -SkipHttpErrorCheck
        $preflight.StatusCode | Should -BeGreaterOrEqual 400
        foreach ($response in $rebound, $foreign, $noHeader, $preflight, (Invoke-WebRequest "$base/api/status")) {
            @($response.Headers.Keys | Where-Object { $_ -like 'Access-Control-*' }) | Should -BeNullOrEmpty
        }
    }

    It 'DELETE /api/requests/http clears the capture, for the cmdlets too' {
        @(Get-TunnelRequest -Tunnel insp).Count | Should -BeGreaterThan 0
        $null = Invoke-RestMethod "$base/api/requests/http" -Method Delete -Headers $mutating -StatusCodeVariable code
        $code | Should -BeIn 200, 204
        @((Invoke-RestMethod "$base/api/requests/http").requests).Count | Should -Be 0
        @(Get-TunnelRequest -Tunnel insp).Count | Should -Be 0
    }
}

Describe 'Get-TunnelRequest -InspectUrl and Invoke-TunnelReplay from a second pwsh' {
    BeforeAll {
        Clear-TunnelRequest
        $site.StatusCode = 500
        $null = Invoke-TestRequest "$url/hook" -Method POST -Body '{"event":"push"}' -ContentType 'application/json' -Headers @{ 'X-Delivery' = 'd-1' }
        $site.StatusCode = 200
        $null = Invoke-TestRequest "$url/other"
        Wait-Until { @(Get-TunnelRequest -Tunnel insp).Count -ge 2 } -Because 'two requests are captured'
        $original = Get-TunnelRequest -Path '/hook'
    }

    It 'returns the same typed requests from another session''s inspector, and replays them through its API' {
        $body = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-TunnelPSManifestPath)'
`$found = @(Get-TunnelRequest -InspectUrl '$base' -Status 500)
`$found | ForEach-Object { 'FOUND=' + (@{ Type = `$_.GetType().FullName; Id = `$_.Id; Tunnel = `$_.Tunnel; Method = `$_.Method; Path = `$_.Path; Status = `$_.Status; Body = `$_.RequestBodyText; Delivery = `$_.RequestHeaders['X-Delivery']; InspectUrl = `$_.InspectUrl } | ConvertTo-Json -Compress) }
'ALL=' + @(Get-TunnelRequest -InspectUrl '$base').Count
'LOCAL=' + @(Get-Tunnel).Count + '/' + @(Get-TunnelRequest).Count
`$replay = `$found | Invoke-TunnelReplay -Header @{ 'X-Replayed-From' = 'second-window' } -Confirm:`$false
'REPLAY=' + (@{ Type = `$replay.GetType().FullName; Id = `$replay.Id; IsReplay = `$replay.IsReplay; ReplayOf = `$replay.ReplayOf; Status = `$replay.Status; InspectUrl = `$replay.InspectUrl } | ConvertTo-Json -Compress)
try { `$null = Get-TunnelRequest -InspectUrl 'http://127.0.0.1:1' } catch { 'ERROR=' + `$_.FullyQualifiedErrorId; 'MESSAGE=' + `$_.Exception.Message }
"@
        $hits = $site.RequestCount
        $site.StatusCode = 202

        $run = Invoke-FreshPwsh -Script $body -Timeout 90

        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        $found = @($run.Output | Where-Object { $_ -like 'FOUND=*' } | ForEach-Object { $_.Substring(6) | ConvertFrom-Json })
        $found | Should -HaveCount 1
        $found[0].Type | Should -Be 'TunnelPS.TunnelRequest'
        $found[0].Id | Should -Be $original.Id
        $found[0].Tunnel | Should -Be 'insp'
        $found[0].Method | Should -Be 'POST'
        $found[0].Path | Should -Be '/hook'
        $found[0].Status | Should -Be 500
        $found[0].Body | Should -Be '{"event":"push"}'
        $found[0].Delivery | Should -Be 'd-1'
        $found[0].InspectUrl | Should -Be $base
        ($run.Output | Where-Object { $_ -like 'ALL=*' }) | Should -Be 'ALL=2'
        # The second window has no tunnels and no captures of its own.
        ($run.Output | Where-Object { $_ -like 'LOCAL=*' }) | Should -Be 'LOCAL=0/0'

        $replay = ($run.Output | Where-Object { $_ -like 'REPLAY=*' }).Substring(7) | ConvertFrom-Json
        $replay.Type | Should -Be 'TunnelPS.TunnelRequest'
        $replay.IsReplay | Should -BeTrue
        $replay.ReplayOf | Should -Be $original.Id
        $replay.Status | Should -Be 202
        $replay.InspectUrl | Should -Be $base
        # It ran in this session, to this session's local service, and is kept in this session's capture.
        $site.RequestCount | Should -Be ($hits + 1)
        $site.Requests.ToArray()[-1].Head | Should -Match 'X-Replayed-From: second-window'
        $local = Get-TunnelRequest -Id $replay.Id
        $local.IsReplay | Should -BeTrue
        $local.ReplayOf | Should -Be $original.Id
        $local.Tunnel | Should -Be 'insp'

        # An inspector that is not there: a terminating error that says where and why.
        ($run.Output | Where-Object { $_ -like 'ERROR=*' }) | Should -Be 'ERROR=InspectorCallFailed,TunnelPS.Commands.GetTunnelRequestCommand'
        ($run.Output | Where-Object { $_ -like 'MESSAGE=*' }) | Should -Match 'http://127\.0\.0\.1:1/'
    }
}

Describe 'Start-Tunnel and the session''s web inspector' {
    It 'puts the inspector''s URL on every Tunnel object, one inspector for all of the session''s tunnels' {
        $base | Should -Match '^http://127\.0\.0\.1:\d+$'
        ([uri]$base).Port | Should -Not -Be 0
        $second = Start-Tunnel -Http $site.Port -Scheme http -Name 'insp-two'
        try {
            $second.InspectUrl | Should -Be $base
            (Get-Tunnel -Name insp).InspectUrl | Should -Be $base
            $listed = (Invoke-RestMethod "$base/api/tunnels").tunnels
            @($listed.name | Sort-Object) | Should -Be @('insp', 'insp-two')
        }
        finally { $second | Stop-Tunnel }
        Wait-Until { @((Invoke-RestMethod "$base/api/tunnels").tunnels).Count -eq 1 } -Because 'a stopped tunnel leaves the list'
    }

    It 'serves the page with a policy that forbids inline script and every other origin' {
        $page = Invoke-WebRequest "$base/"
        $page.StatusCode | Should -Be 200
        $page.Headers['Content-Type'] | Should -Match '^text/html'
        $policy = "$($page.Headers['Content-Security-Policy'])"
        $policy | Should -Match "script-src 'self'"
        $policy | Should -Match "default-src 'none'"
        $policy | Should -Not -Match 'unsafe-inline|unsafe-eval|\*|https?:'
        $page.Content | Should -Not -Match '<script>|<script [^>]*>[^<]|\son[a-z]+='
        $page.Content | Should -Not -Match '(src|href)="(https?:)?//'
        (Invoke-WebRequest "$base/app.js").Headers['Content-Type'] | Should -Match 'javascript'
    }

    It '-InspectAddress disabled starts a tunnel without an inspector' {
        try {
            $plain = Start-Tunnel -Http $site.Port -Scheme http -Name 'insp-off' -InspectAddress disabled
            $plain.InspectUrl | Should -BeNullOrEmpty
            (Get-Tunnel -Name insp-off).InspectUrl | Should -BeNullOrEmpty
            @((Invoke-RestMethod "$base/api/tunnels").tunnels.name) | Should -Not -Contain 'insp-off'
        }
        finally { Get-Tunnel -Name insp-off -ErrorAction Ignore | Stop-Tunnel }
    }

    It 'stops the inspector when the session''s last tunnel stops, and starts one again with the next tunnel' {
        $own = Start-Tunnel -Http $site.Port -Scheme http -Name 'insp-last'
        $own.InspectUrl | Should -Be $base
        $port = ([uri]$base).Port
        $own | Stop-Tunnel
        # Another tunnel still uses it.
        (Invoke-RestMethod "$base/api/status").inspect_url | Should -Be "$base/"

        Get-Tunnel | Stop-Tunnel
        Wait-Until { -not (Test-Listening $port) } -Because 'the inspector stops with the last tunnel'
        $own.InspectUrl | Should -BeNullOrEmpty

        $again = Start-Tunnel -Http $site.Port -Scheme http -Name 'insp-again'
        try {
            $again.InspectUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
            (Invoke-RestMethod "$($again.InspectUrl)/api/tunnels/insp-again").public_url | Should -Be $again.PublicUrl
        }
        finally { $again | Stop-Tunnel }
    }

    It 'stops the inspector when the module is removed' {
        $body = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-TunnelPSManifestPath)'
`$null = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction Ignore
`$tunnel = Start-Tunnel -Http $($site.Port) -Scheme http -InspectAddress 127.0.0.1:0
`$port = ([uri]`$tunnel.InspectUrl).Port
`$before = [System.Net.Sockets.TcpClient]::new(); `$before.Connect('127.0.0.1', `$port); `$before.Dispose()
'LISTENING=' + `$port
Remove-Module TunnelPS
`$after = [System.Net.Sockets.TcpClient]::new()
try { `$after.Connect('127.0.0.1', `$port); 'STILL-OPEN' } catch { 'CLOSED' } finally { `$after.Dispose() }
"@
        $run = Invoke-FreshPwsh -Script $body -Timeout 60
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        @($run.Output | Where-Object { $_ -like 'LISTENING=*' }) | Should -HaveCount 1
        $run.Output | Should -Contain 'CLOSED'
        $run.Output | Should -Not -Contain 'STILL-OPEN'
    }

    It 'refuses a bad -InspectAddress with an InvalidArgument error that names it' {
        $err = { Start-Tunnel -Http $site.Port -Scheme http -Name 'insp-bad' -InspectAddress 'localhost:http' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru
        $err.TargetObject | Should -Be 'localhost:http'
        $err.Exception.Message | Should -Match 'localhost:http'
        Get-Tunnel -Name 'insp-bad' -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'takes inspect_addr from the config file (an address, or disabled), and refuses a bad one naming the file' {
        $dir = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-inspect-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $dir
        $saved = $PSDefaultParameterValues['Start-Tunnel:InspectAddress']
        $PSDefaultParameterValues.Remove('Start-Tunnel:InspectAddress')
        try {
            Get-Tunnel | Stop-Tunnel
            $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
            $probe.Start(); $free = $probe.LocalEndpoint.Port; $probe.Stop()
            $config = Join-Path $dir 'inspect.yml'
            Set-Content -LiteralPath $config -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
inspect_addr: "127.0.0.1:$free"
tunnels:
  cfg: { proto: { http: $($site.Port) } }
"@
            $fromFile = Start-Tunnel -Name cfg -ConfigPath $config
            $fromFile.InspectUrl | Should -Be "http://127.0.0.1:$free"
            (Invoke-RestMethod "http://127.0.0.1:$free/api/tunnels/cfg").name | Should -Be 'cfg'
            Get-Tunnel | Stop-Tunnel

            $off = Join-Path $dir 'off.yml'
            Set-Content -LiteralPath $off -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
inspect_addr: disabled
tunnels:
  cfg: { proto: { http: $($site.Port) } }
"@
            (Start-Tunnel -Name cfg -ConfigPath $off).InspectUrl | Should -BeNullOrEmpty
            Get-Tunnel | Stop-Tunnel

            $bad = Join-Path $dir 'bad.yml'
            Set-Content -LiteralPath $bad -Encoding utf8NoBOM -Value @"
server_addr: "localhost:$($server.Port)"
inspect_addr: "inspector.example.com:4040"
tunnels:
  cfg: { proto: { http: $($site.Port) } }
"@
            # A DNS name: the inspector listens on an address (or localhost). The error names the file, line and column.
            $err = { Start-Tunnel -Name cfg -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -Match ([regex]::Escape("$($bad):2:"))
            $err.Exception.Message | Should -Match 'inspect_addr'
            $err.Exception.Message | Should -Match 'inspector\.example\.com:4040'
            Get-Tunnel -Name cfg -ErrorAction Ignore | Should -BeNullOrEmpty
        }
        finally {
            $PSDefaultParameterValues['Start-Tunnel:InspectAddress'] = $saved
            Get-Tunnel | Stop-Tunnel
            Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction Ignore
        }
    }

    It 'listens on 127.0.0.1:4040 by default, and a second pwsh takes the next free port' {
        # Other test runs on this computer may hold 4040 and the ports after it: the first session takes the first
        # free one from 4040 on, and the second session, started while the first holds its port, another one.
        $body = @'
param($Manifest, $ServerPort, $SitePort)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$tunnel = Start-Tunnel -Http $SitePort -Scheme http -ServerAddress "localhost:$ServerPort" -SkipCertificateCheck -Name ("default-" + $PID)
"INSPECT=$($tunnel.InspectUrl)"
'@
        $manifest = Get-TunnelPSManifestPath
        $call = "& { $body } -Manifest '$manifest' -ServerPort $($server.Port) -SitePort $($site.Port)"
        $first = Start-BackgroundPwsh -Script ($call + "`nwhile (`$true) { Start-Sleep -Milliseconds 200 }")
        try {
            Wait-Until { $first.HasExited -or @($first.Lines | Where-Object { $_ -like 'INSPECT=*' }).Count -gt 0 } -Timeout 60 -Because 'the first pwsh reports its inspector'
            $firstUrl = ([string]@($first.Lines | Where-Object { $_ -like 'INSPECT=*' })[0]).Substring(8)
            $firstPort = ([uri]$firstUrl).Port
            $firstUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
            $firstPort | Should -BeGreaterOrEqual 4040
            $firstPort | Should -BeLessThan 4060
            (Invoke-RestMethod "$firstUrl/api/status").inspect_url | Should -Be "$firstUrl/"

            $second = Invoke-FreshPwsh -Script $call -Timeout 60
            $second.ExitCode | Should -Be 0 -Because ($second.Output -join "`n")
            $secondUrl = ([string]@($second.Output | Where-Object { $_ -like 'INSPECT=*' })[0]).Substring(8)
            $secondPort = ([uri]$secondUrl).Port
            $secondPort | Should -Not -Be $firstPort
            $secondPort | Should -BeGreaterOrEqual 4040
            $secondPort | Should -BeLessThan 4060
        }
        finally { $first.Dispose() }
    }
}
