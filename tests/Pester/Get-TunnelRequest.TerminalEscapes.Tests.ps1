# A visitor and a local service that put terminal escape sequences in what they send: a body with ESC]0;title BEL
# (window title), ESC[2J (clear screen) and a C1 CSI; an answer that fakes a prompt, with them in a header value too.
# (A TunnelPS server refuses a visitor's header value with a control character in it, 400, so the header comes from
# the local service here; a plain ngrok 1.x server would pass a visitor's.)
# Get-TunnelRequest's views and properties show them as visible text, formatted as on an interactive terminal
# ($PSStyle.OutputRendering Ansi, where PowerShell strips nothing); RequestBody and ResponseBody keep the raw bytes.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $null = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue

    $script:Attack = "$([char]27)]0;pwned$([char]7)$([char]27)[2J"
    $script:Shown = "$([char]0x241B)]0;pwned$([char]0x2407)$([char]0x241B)[2J"
    $script:Answer = "served$Attack`r`nPS C:\> "
    $script:ContentType = "text/plain; charset=utf-8; x=$Attack"
    $site = Start-TestHttpSite -Body $Answer -ContentType $ContentType
    $script:Http = Start-Tunnel -Http $site.Port -Name visitorescapes | Where-Object Protocol -eq 'http'

    # The control characters in text bound for the terminal, but TAB, CR, LF and PowerShell's own colours (SGR: ESC [ ... m).
    function script:Get-UnsafeControl([string] $Text) {
        $withoutSgr = $Text -replace "$([char]27)\[[0-9;]*m", ''
        [regex]::Matches($withoutSgr, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]') | ForEach-Object { '\x{0:X2}' -f [int][char]$_.Value }
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $site.Stop()
}

Describe 'Get-TunnelRequest with a visitor that sends escape sequences' {
    BeforeAll {
        $rendering = $PSStyle.OutputRendering
        $PSStyle.OutputRendering = 'Ansi' # as on an interactive terminal: PowerShell strips nothing itself
        $body = "a=1$Attack`r`nb=2`tc$([char]0x9B)2J"
        (Invoke-TestRequest "$($Http.PublicUrl)/form" -Method POST -Body $body).StatusCode | Should -Be 200
        Wait-Until { @(Get-TunnelRequest -Tunnel visitorescapes).Count -eq 1 } -Because 'the request is captured'
        $request = Get-TunnelRequest -Tunnel visitorescapes
    }

    AfterAll {
        $PSStyle.OutputRendering = $rendering
    }

    It 'shows the body, the header and the answer with their controls visible; TAB and CR LF stay in the body texts' {
        $request.RequestBodyText | Should -BeExactly ("a=1$Shown`r`nb=2`tc" + '\u009B2J')
        $request.ResponseHeaders['Content-Type'] | Should -BeExactly "text/plain; charset=utf-8; x=$Shown"
        $request.ContentType | Should -BeExactly "text/plain; charset=utf-8; x=$Shown"
        $request.ResponseBodyText | Should -BeExactly "served$Shown`r`nPS C:\> "
    }

    It 'keeps the raw bytes in RequestBody and ResponseBody' {
        $request.RequestBody | Should -Be ([System.Text.Encoding]::UTF8.GetBytes($body))
        $request.ResponseBody | Should -Be ([System.Text.Encoding]::UTF8.GetBytes($Answer))
    }

    It 'writes no control character to the terminal through Format-List *, the table view or the headers' {
        Get-UnsafeControl ($request | Format-List * | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($request | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($request.ResponseHeaders | Format-List * | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($request.ResponseHeaders.ToString()) | Should -BeNullOrEmpty
    }
}

Describe 'Get-TunnelRequest -InspectUrl with an inspector that answers an error with escape sequences' {
    BeforeAll {
        $rendering = $PSStyle.OutputRendering
        $PSStyle.OutputRendering = 'Ansi'
        # JSON carries the controls escaped; the client decodes them into the message.
        $inspector = Start-TestHttpSite -StatusCode 500 -ContentType 'application/json' -Body '{"msg":"boom\u001b]0;pwned\u0007\u001b[2J\r\nPS C:\\> "}'
    }

    AfterAll {
        $PSStyle.OutputRendering = $rendering
        $inspector.Stop()
    }

    It 'shows the error with its controls visible in the error record' {
        $err = { Get-TunnelRequest -InspectUrl $inspector.Url -ErrorAction Stop } |
            Should -Throw -ErrorId 'InspectorCallFailed,TunnelPS.Commands.GetTunnelRequestCommand' -PassThru

        "$err".EndsWith("answered 500: boom$Shown$([char]0x240D)$([char]0x240A)PS C:\> ") | Should -BeTrue -Because "$err"
        Get-UnsafeControl ($err | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err.Exception | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
    }
}
