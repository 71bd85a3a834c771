# Wait-TunnelRequest: blocks until a matching exchange completes through a real tunnel; a
# timeout is a terminating OperationTimeout error.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = Start-TestHttpSite -Body 'received'
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-wait'
    $publicUri = [uri]$tunnel.PublicUrl

    # Sends GET <path> through the tunnel every 100 ms from another thread until $stop is set,
    # so a request is certain to complete after Wait-TunnelRequest starts.
    function Start-RequestLoop([string] $Path, [System.Threading.ManualResetEventSlim] $Stop) {
        Start-ThreadJob -ArgumentList $publicUri, $Path, $Stop -ScriptBlock {
            param($PublicUri, $Path, $Stop)
            $handler = [System.Net.Http.SocketsHttpHandler]::new()
            $handler.UseProxy = $false
            $client = [System.Net.Http.HttpClient]::new($handler)
            try {
                while (-not $Stop.Wait(100)) {
                    $request = [System.Net.Http.HttpRequestMessage]::new('GET', "http://127.0.0.1:$($PublicUri.Port)$Path")
                    $request.Headers.Host = $PublicUri.Authority
                    try { $client.Send($request).Dispose() } catch { }
                }
            }
            finally { $client.Dispose() }
        }
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'Wait-TunnelRequest' {
    It 'returns the first matching request that completes after it starts' {
        $null = Invoke-TestRequest "$($tunnel.PublicUrl)/webhook"
        Wait-Until { @(Get-TunnelRequest -Path '/webhook').Count -ge 1 } -Because 'an earlier request is captured'
        $earlier = Get-TunnelRequest -Path '/webhook'
        $stop = [System.Threading.ManualResetEventSlim]::new($false)
        $job = Start-RequestLoop -Path '/webhook' -Stop $stop
        try {
            $request = Wait-TunnelRequest -Tunnel 'req-wait' -Method GET -Path '/web*' -Status 200 -Timeout 20
        }
        finally {
            $stop.Set()
            $job | Wait-Job -Timeout 20 | Remove-Job -Force
        }

        $request | Should -BeOfType ([TunnelPS.TunnelRequest])
        $request.Path | Should -Be '/webhook'
        $request.Status | Should -Be 200
        $request.Id | Should -BeGreaterThan $earlier.Id
    }

    It 'serves the runbook in about_TunnelPS: a webhook POST is awaited, then the tunnel is closed in finally' {
        $hookTunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-runbook'
        $hookUri = [uri]$hookTunnel.PublicUrl
        $stop = [System.Threading.ManualResetEventSlim]::new($false)
        # The "sender" calls the URL it was given with a JSON body, until the runbook has its call.
        $sender = Start-ThreadJob -ArgumentList $hookUri, $stop -ScriptBlock {
            param($Uri, $Stop)
            $handler = [System.Net.Http.SocketsHttpHandler]::new()
            $handler.UseProxy = $false
            $client = [System.Net.Http.HttpClient]::new($handler)
            try {
                while (-not $Stop.Wait(100)) {
                    $request = [System.Net.Http.HttpRequestMessage]::new('POST', "http://127.0.0.1:$($Uri.Port)/webhook")
                    $request.Headers.Host = $Uri.Authority
                    $request.Content = [System.Net.Http.StringContent]::new('{"event":"build.done","id":42}', [System.Text.Encoding]::UTF8, 'application/json')
                    try { $client.Send($request).Dispose() } catch { }
                }
            }
            finally { $client.Dispose() }
        }
        try {
            $call = Wait-TunnelRequest -Tunnel 'req-runbook' -Path /webhook -Method POST -Timeout 20
            $payload = $call.RequestBodyText | ConvertFrom-Json
        }
        finally {
            $stop.Set()
            $sender | Wait-Job -Timeout 20 | Remove-Job -Force
            $hookTunnel | Stop-Tunnel
        }

        $payload.event | Should -Be 'build.done'
        $payload.id | Should -Be 42
        $hookTunnel.Status | Should -Be 'Stopped'
        @(Get-Tunnel -Name 'req-runbook' -ErrorAction SilentlyContinue) | Should -HaveCount 0
    }

    It 'ignores requests that do not match' {
        $stop = [System.Threading.ManualResetEventSlim]::new($false)
        $job = Start-RequestLoop -Path '/other' -Stop $stop
        try {
            { Wait-TunnelRequest -Path '/never' -Timeout 0.5 } | Should -Throw -ErrorId 'WaitTimedOut,TunnelPS.Commands.WaitTunnelRequestCommand'
        }
        finally {
            $stop.Set()
            $job | Wait-Job -Timeout 20 | Remove-Job -Force
        }
    }

    It 'times out with a terminating OperationTimeout error (seconds or a TimeSpan)' {
        $caught = $null
        try { Wait-TunnelRequest -Tunnel 'req-wait' -Timeout 0.3 } catch { $caught = $_ }

        $caught.FullyQualifiedErrorId | Should -Be 'WaitTimedOut,TunnelPS.Commands.WaitTunnelRequestCommand'
        $caught.CategoryInfo.Category | Should -Be 'OperationTimeout'
        { Wait-TunnelRequest -Timeout ([timespan]::FromMilliseconds(200)) } | Should -Throw -ErrorId 'WaitTimedOut,TunnelPS.Commands.WaitTunnelRequestCommand'
    }

    It 'stops promptly when the pipeline is stopped (Ctrl+C)' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Get-TunnelPSManifestPath)'; Write-Information 'waiting'; Wait-TunnelRequest -Tunnel 'req-wait'")
            $handle = $ps.BeginInvoke()
            Wait-Until { $ps.Streams.Information.Count -gt 0 } -Because 'the script reaches Wait-TunnelRequest'
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()

            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
            $handle.IsCompleted | Should -BeTrue
        }
        finally { $ps.Dispose() }
    }

    It 'fails with TunnelNotFound for a tunnel that does not exist' {
        { Wait-TunnelRequest -Tunnel 'no-such-tunnel' -Timeout 1 } | Should -Throw -ErrorId 'TunnelNotFound,TunnelPS.Commands.WaitTunnelRequestCommand'
    }
}
