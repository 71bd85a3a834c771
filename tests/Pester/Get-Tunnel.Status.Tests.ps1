# Get-Tunnel when things go wrong: a local service that does not answer makes the tunnel Degraded (Error, LastError)
# and its requests are captured with the client's 502 and an Error; Online again when the service answers. Each change
# raises the TunnelPS.TunnelStatusChanged PowerShell event, and a change to Degraded or Reconnecting writes one warning
# (not one per request), checked in a fresh pwsh whose host output is read.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    $server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Get-Tunnel Status and LastError when the local service does not answer' {
    BeforeAll {
        $port = Get-FreeTcpPort
        # An engine event's action sees the event's MessageData, not the registration's: collect in a global.
        $global:TunnelStatusChanges = $changes = [System.Collections.Generic.List[object]]::new()
        $tunnel = Start-Tunnel -Http $port -Name 'flaky'
        $subscription = Register-EngineEvent -SourceIdentifier 'TunnelPS.TunnelStatusChanged' -Action {
            $global:TunnelStatusChanges.Add([pscustomobject]@{ Sender = $Event.Sender; Args = $Event.SourceEventArgs })
        }
        $http = $tunnel | Where-Object Protocol -eq 'http'
    }

    AfterAll {
        Unregister-Event -SourceIdentifier 'TunnelPS.TunnelStatusChanged' -ErrorAction Ignore
        $subscription | Remove-Job -Force -ErrorAction Ignore
        Remove-Variable -Name TunnelStatusChanges -Scope Global -ErrorAction Ignore
        Get-Tunnel flaky -ErrorAction Ignore | Stop-Tunnel
    }

    It 'captures each refused request with status 502 and an Error, and shows the tunnel Degraded with Error and LastError' {
        foreach ($page in 1..3) {
            (Invoke-TestRequest "$($http.PublicUrl)/orders?page=$page").StatusCode | Should -Be 502
        }
        Wait-Until { @(Get-TunnelRequest -Tunnel flaky).Count -eq 3 } -Because 'the three refused requests are captured'

        $requests = Get-TunnelRequest -Tunnel flaky
        $requests.Target | Should -Be @('/orders?page=1', '/orders?page=2', '/orders?page=3')
        $requests.Status | Should -Be @(502, 502, 502)
        $requests[0].Error | Should -Be "The client answered 502 itself: the local service localhost:$port could not be reached (Connection refused)."
        $requests[0].ResponseBodyText | Should -Match "localhost:$port"
        (Get-TunnelRequest -Tunnel flaky -Status 502) | Should -HaveCount 3

        $now = Get-Tunnel flaky
        $now.Status | Should -Be @('Degraded', 'Degraded')
        $now.Error | Should -Be @('Connection refused', 'Connection refused')
        $now.LastError | Should -Be @('Connection refused', 'Connection refused')
        $now[0].LastErrorTime | Should -BeOfType ([DateTimeOffset])
    }

    It 'raises TunnelPS.TunnelStatusChanged once per URL for the change, with the tunnel and both statuses' {
        Wait-Until { $changes.Count -ge 2 } -Because 'the event handler ran for both URLs'

        $changes | Should -HaveCount 2
        ($changes.Sender | Sort-Object PublicUrl) | Should -Be (Get-Tunnel flaky | Sort-Object PublicUrl)
        $changes.Args.PreviousStatus | Should -Be @('Online', 'Online')
        $changes.Args.Status | Should -Be @('Degraded', 'Degraded')
        $changes.Args.Error | Should -Be @('Connection refused', 'Connection refused')
        # One warning for the tunnel: it rides on the first URL's event only.
        @($changes.Args.Warning | Where-Object { $_ }) | Should -HaveCount 1
        @($changes.Args.Warning | Where-Object { $_ })[0] | Should -BeLike "Tunnel 'flaky' (*) is Degraded: Connection refused. Visitors get the client's error page*"
    }

    It 'is Online again, Error empty and LastError kept, once the local service answers' {
        $site = Start-TestHttpSite -Port $port -Body 'back'
        try {
            (Invoke-TestRequest "$($http.PublicUrl)/").Body | Should -Be 'back'

            $now = Get-Tunnel flaky
            $now.Status | Should -Be @('Online', 'Online')
            $now.Error | Where-Object { $_ } | Should -BeNullOrEmpty
            $now.LastError | Should -Be @('Connection refused', 'Connection refused')
            Wait-Until { $changes.Count -ge 4 } -Because 'the event handler ran for the change back'
            $changes[2..3].Args.Status | Should -Be @('Online', 'Online')
            $changes[2..3].Args.Warning | Where-Object { $_ } | Should -BeNullOrEmpty
            (Get-TunnelRequest -Tunnel flaky -Last 1).Status | Should -Be 200
        }
        finally { $site.Stop() }
    }

    It 'tells whether a change is still current: only until the next change, and never once the tunnel is stopped' {
        # The module writes a change's warning only while it is current, so a warning read late (after Start-Tunnel
        # -Wait held the pipeline) is not written once the tunnel recovered or the user stopped it.
        Wait-Until { $changes.Count -ge 4 } -Because 'the event handler ran for the change back'
        @($changes[0..3] | ForEach-Object { '{0}={1}' -f $_.Args.Status, $_.Args.IsCurrent }) |
            Should -Be @('Degraded=False', 'Degraded=False', 'Online=True', 'Online=True')

        Get-Tunnel flaky | Stop-Tunnel
        @($changes[0..3] | ForEach-Object { '{0}={1}' -f $_.Args.Status, $_.Args.IsCurrent }) |
            Should -Be @('Degraded=False', 'Degraded=False', 'Online=False', 'Online=False')
    }
}

Describe 'A TCP tunnel whose local port is closed' {
    It 'is Degraded with a warning in TCP words: connections closed, no error page, no requests' {
        $global:TcpStatusChanges = $changes = [System.Collections.Generic.List[object]]::new()
        $port = Get-FreeTcpPort
        $tunnel = Start-Tunnel -Tcp $port -Name 'flaky-tcp'
        $null = Register-EngineEvent -SourceIdentifier 'TunnelPS.TunnelStatusChanged' -Action {
            if ($Event.Sender.Name -eq 'flaky-tcp') { $global:TcpStatusChanges.Add($Event.SourceEventArgs) }
        }
        try {
            $publicPort = ([uri]$tunnel.PublicUrl).Port
            $null = Invoke-TcpEcho -HostName 127.0.0.1 -Port $publicPort -Text 'hello?' -Timeout 10
            Wait-Until { @($changes | Where-Object Warning).Count -ge 1 } -Because 'the tunnel turned Degraded'

            $warning = @($changes | Where-Object Warning)[0].Warning
            $warning | Should -Be ("Tunnel 'flaky-tcp' ($($tunnel.PublicUrl)) is Degraded: Connection refused. Visitors' connections are closed at once " +
                "until the local service at localhost:$port accepts connections; Get-Tunnel shows Status and LastError.")
        }
        finally {
            Unregister-Event -SourceIdentifier 'TunnelPS.TunnelStatusChanged' -ErrorAction Ignore
            Remove-Variable -Name TcpStatusChanges -Scope Global -ErrorAction Ignore
            $tunnel | Stop-Tunnel
        }
    }
}

Describe 'Warnings on the host for Degraded and Reconnecting' {
    It 'writes one warning when the local service stops answering however many requests fail, and one when the server is lost' {
        $helpers = Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1'
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$helpers'
`$null = Import-TunnelPSModule
`$server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction SilentlyContinue
`$tunnel = Start-Tunnel -Http (Get-FreeTcpPort) -Name 'down'
# Registered after Start-Tunnel, so it runs after the module's own action for each event.
`$global:seen = `$seen = [System.Collections.Generic.List[string]]::new()
`$null = Register-EngineEvent -SourceIdentifier 'TunnelPS.TunnelStatusChanged' -Action { `$global:seen.Add([string]`$Event.SourceEventArgs.Status) }
`$url = (`$tunnel | Where-Object Protocol -eq 'http').PublicUrl
foreach (`$i in 1..5) { `$null = Invoke-TestRequest "`$url/fail/`$i" }
Wait-Until { `$seen.Count -ge 2 } -Because 'both URLs became Degraded'
foreach (`$i in 6..8) { `$null = Invoke-TestRequest "`$url/fail/`$i" }
Wait-Until { @(Get-TunnelRequest -Tunnel down).Count -eq 8 } -Because 'every failed request is captured'
'STATUS ' + ((Get-Tunnel down).Status -join ',')
`$server | Stop-TunnelServer
Wait-Until { `$seen.Count -ge 4 } -Timeout 20 -Because 'both URLs became Reconnecting'
Wait-Until { (Get-Tunnel down).LastError -notcontains 'Connection refused' } -Because 'the reconnect reason is the last error'
'STATUS ' + ((Get-Tunnel down).Status -join ',')
'SEEN ' + (`$seen -join ',')
Get-Tunnel | Stop-Tunnel
"@
        $result = Invoke-FreshPwsh -Script $script -Timeout 90

        $text = $result.Output -join "`n"
        $result.ExitCode | Should -Be 0 -Because $text
        $result.Output | Should -Contain 'STATUS Degraded,Degraded'
        $result.Output | Should -Contain 'STATUS Reconnecting,Reconnecting'
        $result.Output | Should -Contain 'SEEN Degraded,Degraded,Reconnecting,Reconnecting'
        $degraded = @($result.Output | Where-Object { $_ -match "WARNING: Tunnel 'down' \(.*\) is Degraded: Connection refused\." })
        $degraded | Should -HaveCount 1 -Because $text
        $reconnecting = @($result.Output | Where-Object { $_ -match "WARNING: Tunnel 'down' \(.*\) is Reconnecting to " })
        $reconnecting | Should -HaveCount 1 -Because $text
    }
}
