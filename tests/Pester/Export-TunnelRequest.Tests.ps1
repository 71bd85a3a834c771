# Export-TunnelRequest: HAR 1.2 files from requests captured through a real tunnel, checked
# against the structure the HAR 1.2 specification requires; redaction.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body 'exported'
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-export'
    $url = $tunnel.PublicUrl
    $null = Invoke-TestRequest "$url/a?q=1" -Headers @{ Authorization = 'Bearer secret-token'; Cookie = 'session=abc' }
    $null = Invoke-TestRequest "$url/b" -Method POST -Body 'body-b'
    Wait-Until { @(Get-TunnelRequest -Tunnel 'req-export').Count -ge 2 } -Because 'two requests are captured'

    # The members HAR 1.2 marks as required, per object.
    function Assert-Har12 ([string] $Path, [int] $Entries) {
        $har = Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json
        $har.log.version | Should -Be '1.2'
        $har.log.creator.name | Should -Not -BeNullOrEmpty
        $har.log.creator.version | Should -Not -BeNullOrEmpty
        @($har.log.entries) | Should -HaveCount $Entries
        foreach ($entry in $har.log.entries) {
            foreach ($name in 'startedDateTime', 'time', 'request', 'response', 'cache', 'timings') {
                $entry.PSObject.Properties.Name | Should -Contain $name
            }
            [datetimeoffset]::Parse($entry.startedDateTime, [cultureinfo]::InvariantCulture) | Should -BeOfType ([datetimeoffset])
            foreach ($name in 'method', 'url', 'httpVersion', 'cookies', 'headers', 'queryString', 'headersSize', 'bodySize') {
                $entry.request.PSObject.Properties.Name | Should -Contain $name
            }
            foreach ($name in 'status', 'statusText', 'httpVersion', 'cookies', 'headers', 'content', 'redirectURL', 'headersSize', 'bodySize') {
                $entry.response.PSObject.Properties.Name | Should -Contain $name
            }
            $entry.response.content.PSObject.Properties.Name | Should -Contain 'size'
            $entry.response.content.PSObject.Properties.Name | Should -Contain 'mimeType'
            foreach ($name in 'send', 'wait', 'receive') {
                $entry.timings.PSObject.Properties.Name | Should -Contain $name
            }
            foreach ($header in @($entry.request.headers) + @($entry.response.headers)) {
                $header.PSObject.Properties.Name | Should -Contain 'name'
                $header.PSObject.Properties.Name | Should -Contain 'value'
            }
        }
        $har
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Export-TunnelRequest' {
    It 'writes every request held as HAR 1.2' {
        $path = Join-Path $TestDrive 'all.har'

        $result = Export-TunnelRequest -Path $path

        $result | Should -BeNullOrEmpty
        $har = Assert-Har12 -Path $path -Entries 2
        $har.log.entries[0].request.url | Should -Be "$url/a?q=1"
        $har.log.entries[0].request.queryString[0].name | Should -Be 'q'
        $har.log.entries[1].request.method | Should -Be 'POST'
        $har.log.entries[1].request.postData.text | Should -Be 'body-b'
        $har.log.entries[1].response.status | Should -Be 200
        $har.log.entries[1].response.content.text | Should -Be 'exported'
    }

    It 'writes only the piped requests, and -PassThru returns the file' {
        $path = Join-Path $TestDrive 'post.har'

        $file = Get-TunnelRequest -Method POST | Export-TunnelRequest -Path $path -PassThru

        $file | Should -BeOfType ([System.IO.FileInfo])
        $file.FullName | Should -Be $path
        # Formats like Get-Item's: the provider's notes, so the FileSystem view with its Directory: header.
        $file.PSParentPath | Should -Be (Get-Item -LiteralPath $path).PSParentPath
        ($file | Out-String) | Should -Be (Get-Item -LiteralPath $path | Out-String)
        (Assert-Har12 -Path $path -Entries 1).log.entries[0].request.method | Should -Be 'POST'
    }

    It 'redacts Authorization and Cookie with -Redact, keeps them without' {
        $plain = Join-Path $TestDrive 'plain.har'
        $redacted = Join-Path $TestDrive 'redacted.har'

        Get-TunnelRequest -Path '/a' | Export-TunnelRequest -Path $plain
        Get-TunnelRequest -Path '/a' | Export-TunnelRequest -Path $redacted -Redact

        Get-Content -Raw $plain | Should -Match 'secret-token'
        $text = Get-Content -Raw $redacted
        $text | Should -Not -Match 'secret-token'
        $text | Should -Not -Match 'session=abc'
        $headers = (Assert-Har12 -Path $redacted -Entries 1).log.entries[0].request.headers
        ($headers | Where-Object name -eq 'Authorization').value | Should -Be 'REDACTED'
    }

    It 'redacts API keys, secret query parameters, form passwords and JSON secrets with -Redact, keeping the HAR valid' {
        $null = Invoke-TestRequest "$url/login?access_token=query-secret-1&page=2" -Method POST -Headers @{ 'X-Api-Key' = 'api-key-secret-2' } `
            -Body 'user=alice&password=form-secret-3' -ContentType 'application/x-www-form-urlencoded'
        $null = Invoke-TestRequest "$url/json" -Method POST -Body '{"user":"alice","profile":{"client_secret":"json-secret-4"}}' -ContentType 'application/json'
        Wait-Until { @(Get-TunnelRequest | Where-Object Path -in '/login', '/json').Count -ge 2 } -Because 'both requests are captured'
        $path = Join-Path $TestDrive 'secrets.har'

        Get-TunnelRequest | Where-Object Path -in '/login', '/json' | Export-TunnelRequest -Path $path -Redact

        $text = Get-Content -Raw $path
        foreach ($secret in 'query-secret-1', 'api-key-secret-2', 'form-secret-3', 'json-secret-4') {
            $text | Should -Not -Match $secret
        }
        $entries = (Assert-Har12 -Path $path -Entries 2).log.entries
        $login = $entries | Where-Object { $_.request.url -like '*/login*' }
        $login.request.url | Should -Be "$url/login?access_token=REDACTED&page=2"
        ($login.request.queryString | Where-Object name -eq 'page').value | Should -Be '2'
        ($login.request.headers | Where-Object name -eq 'X-Api-Key').value | Should -Be 'REDACTED'
        $login.request.postData.text | Should -Be 'user=alice&password=REDACTED'
        ($login.request.postData.params | Where-Object name -eq 'user').value | Should -Be 'alice'
        ($login.request.postData.params | Where-Object name -eq 'password').value | Should -Be 'REDACTED'
        $json = ($entries | Where-Object { $_.request.url -like '*/json' }).request.postData.text | ConvertFrom-Json
        $json.user | Should -Be 'alice'
        $json.profile.client_secret | Should -Be 'REDACTED'
    }

    It 'writes nothing with -WhatIf' {
        $path = Join-Path $TestDrive 'whatif.har'
        Export-TunnelRequest -Path $path -WhatIf
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'fails with ExportFailed, a WriteError naming the missing folder, when the folder does not exist' {
        $folder = Join-Path $TestDrive 'no-such-folder'
        $path = Join-Path $folder 'x.har'
        $err = { Export-TunnelRequest -Path $path } | Should -Throw -ErrorId 'ExportFailed,TunnelPS.Commands.ExportTunnelRequestCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'WriteError'
        $err.TargetObject | Should -Be $path
        $err.Exception.Message | Should -Be "Cannot write the HAR file to '$path': the folder '$folder' does not exist. Create it first, or give a -Path in an existing folder."
    }
}
