# The web inspector driven by the npm ngrok package's NgrokClient (tests/NgrokClient/drive.js, installed there with
# `npm ci --ignore-scripts`): it lists tunnels (unique names: 'web' for https, 'web (http)' for http), lists requests,
# reads a detail with request.raw and response.raw, replays (ngrok's 204) and deletes all requests; the effects are
# checked through the module. And the CSRF defence that stays: a form-encoded or text/plain POST without the
# X-TunnelPS-Request header, and a JSON POST from a foreign Origin, are refused.

BeforeDiscovery {
    $clientDir = Join-Path $PSScriptRoot '../NgrokClient'
    $script:Skip = if (-not (Get-Command node -ErrorAction Ignore)) {
        'node is not installed (the Debian package nodejs, or any node on PATH)'
    }
    elseif (-not (Test-Path -LiteralPath (Join-Path $clientDir 'node_modules/ngrok/src/client.js'))) {
        'the npm ngrok package is not installed: run npm ci --ignore-scripts in tests/NgrokClient (.ci/run does)'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $script:Driver = Join-Path $PSScriptRoot '../NgrokClient/drive.js'
    function Invoke-NgrokClient([string] $Step) {
        $output = & node $script:Driver $script:Base $Step
        $LASTEXITCODE | Should -Be 0 -Because "node drive.js $Step printed: $output"
        $output | ConvertFrom-Json
    }

    $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
    $site = Start-TestHttpSite -Body 'hello from the site'
    $tunnels = Start-Tunnel -Http $site.Port -Name 'ngweb' -InspectAddress '127.0.0.1:0'
    $http = $tunnels | Where-Object Protocol -EQ 'http'
    $https = $tunnels | Where-Object Protocol -EQ 'https'
    $script:Base = $http.InspectUrl
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'The npm ngrok client against the web inspector' -ForEach @(@{ SkipReason = $script:Skip }) {
    BeforeAll {
        if ($SkipReason) { return }
        $null = Invoke-TestRequest "$($http.PublicUrl)/hook?x=1" -Method POST -Body 'payload=1' -ContentType 'application/x-www-form-urlencoded'
        Wait-Until { @(Get-TunnelRequest -Tunnel ngweb).Count -ge 1 } -Because 'the request is captured'
        $script:Original = Get-TunnelRequest -Tunnel ngweb -Last 1
    }

    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
    }

    It 'lists the tunnels with unique names, reads a request''s raw messages and replays it' {
        $seen = Invoke-NgrokClient 'read'

        @($seen.tunnels | Sort-Object name | ForEach-Object { "$($_.name)|$($_.proto)|$($_.public_url)" }) |
            Should -Be @("ngweb|https|$($https.PublicUrl)", "ngweb (http)|http|$($http.PublicUrl)")
        @($seen.details | ForEach-Object { "$($_.name)|$($_.public_url)" }) |
            Should -Be @($seen.tunnels | ForEach-Object { "$($_.name)|$($_.public_url)" })

        "$($seen.request_ids[0])" | Should -Be "$($script:Original.Id)"
        $seen.detail.raw_request | Should -BeLike "POST /hook?x=1 HTTP/1.1`r`n*`r`n`r`npayload=1"
        $seen.detail.raw_request | Should -Match "(?m)^Content-Type: application/x-www-form-urlencoded`r$"
        $seen.detail.raw_response | Should -BeLike "HTTP/1.1 200 *`r`n`r`nhello from the site"

        $seen.replayed | Should -BeTrue
        Wait-Until { @(Get-TunnelRequest -Tunnel ngweb | Where-Object ReplayOf -EQ $script:Original.Id).Count -eq 1 } -Because 'the replay is captured'
        $site.Requests.Count | Should -Be 2
    }

    It 'deletes every captured request' {
        @(Get-TunnelRequest -Tunnel ngweb).Count | Should -BeGreaterThan 0

        (Invoke-NgrokClient 'delete').deleted | Should -BeTrue

        @(Get-TunnelRequest -Tunnel ngweb) | Should -HaveCount 0
    }
}

Describe 'The names of a tunnel''s http and https URLs' {
    It 'gives the API name on the Tunnel objects, while -Name finds and stops both URLs' {
        $https.ApiName | Should -Be 'ngweb'
        $http.ApiName | Should -Be 'ngweb (http)'
        @($tunnels.Name | Select-Object -Unique) | Should -Be @('ngweb')
        @(Get-Tunnel -Name ngweb) | Should -HaveCount 2

        (Invoke-RestMethod "$($script:Base)/api/tunnels/ngweb%20(http)").public_url | Should -Be $http.PublicUrl
        (Invoke-RestMethod "$($script:Base)/api/tunnels/ngweb").public_url | Should -Be $https.PublicUrl
        (Invoke-RestMethod "$($script:Base)/api/tunnels/ngweb?proto=http").public_url | Should -Be $http.PublicUrl
    }
}

Describe 'What the inspector still refuses without X-TunnelPS-Request' {
    BeforeAll {
        $null = Invoke-TestRequest "$($http.PublicUrl)/kept"
        Wait-Until { @(Get-TunnelRequest -Tunnel ngweb -Path '/kept').Count -ge 1 } -Because 'the request is captured'
        $kept = Get-TunnelRequest -Tunnel ngweb -Path '/kept' -Last 1
    }

    It 'refuses a <Kind> POST, which a cross-site form can send' -ForEach @(
        @{ Kind = 'form-encoded'; ContentType = 'application/x-www-form-urlencoded' }
        @{ Kind = 'text/plain'; ContentType = 'text/plain' }
    ) {
        $count = @(Get-TunnelRequest -Tunnel ngweb).Count
        $response = Invoke-WebRequest "$($script:Base)/api/requests/http" -Method POST -Body "{`"id`": $($kept.Id)}" -ContentType $ContentType -SkipHttpErrorCheck

        $response.StatusCode | Should -Be 403
        ($response.Content | ConvertFrom-Json).msg | Should -Match 'X-TunnelPS-Request: 1.*DELETE or a POST of Content-Type application/json'
        @(Get-TunnelRequest -Tunnel ngweb) | Should -HaveCount $count
    }

    It 'refuses a JSON POST and a DELETE from a foreign Origin' {
        $count = @(Get-TunnelRequest -Tunnel ngweb).Count
        $post = Invoke-WebRequest "$($script:Base)/api/requests/http" -Method POST -Body "{`"id`": $($kept.Id)}" -ContentType 'application/json' -Headers @{ Origin = 'http://evil.example' } -SkipHttpErrorCheck
        $delete = Invoke-WebRequest "$($script:Base)/api/requests/http" -Method DELETE -Headers @{ Origin = 'http://evil.example' } -SkipHttpErrorCheck

        $post.StatusCode | Should -Be 403
        ($post.Content | ConvertFrom-Json).msg | Should -Match "origin 'http://evil.example'"
        $delete.StatusCode | Should -Be 403
        @(Get-TunnelRequest -Tunnel ngweb) | Should -HaveCount $count
    }

    It 'stops both URLs with Stop-Tunnel -Name' {
        Stop-Tunnel -Name ngweb
        @($tunnels.Status) | Should -Be @('Stopped', 'Stopped')
    }
}
