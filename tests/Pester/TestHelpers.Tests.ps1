# The shared test module itself: the tunnel tests lean on these helpers, so they are
# checked on their own first.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
}

Describe 'TunnelPS.TestHelpers' {
    Context 'Start-TestHttpSite and Invoke-TestRequest' {
        BeforeAll {
            $site = Start-TestHttpSite -StatusCode 200 -Body 'hello'
        }
        AfterAll {
            $site.Stop()
        }

        It 'answers on a loopback port with the configured status and body' {
            $response = Invoke-TestRequest -Uri "$($site.Url)ping"
            $response.StatusCode | Should -Be 200
            $response.Body | Should -Be 'hello'
            $response.Headers['Content-Length'] | Should -Be '5'
        }

        It 'returns 5xx answers as results, not exceptions' {
            $site.StatusCode = 500
            $site.Body = 'boom'
            try {
                $response = Invoke-TestRequest -Uri $site.Url -Method POST -Body 'payload'
            }
            finally {
                $site.StatusCode = 200
                $site.Body = 'hello'
            }
            $response.StatusCode | Should -Be 500
            $response.Body | Should -Be 'boom'
        }

        It 'records the requests it served, with the Host header it was sent' {
            $before = $site.RequestCount
            $null = Invoke-TestRequest -Uri "$($site.Url)recorded" -HostHeader 'example.localhost:1234'
            $site.RequestCount | Should -Be ($before + 1)
            $last = @($site.Requests)[-1]
            $last.Method | Should -Be 'GET'
            $last.Path | Should -Be '/recorded'
            $last.Head | Should -Match '(?m)^Host: example\.localhost:1234\r?$'
        }

        It 'reaches a .localhost host on loopback with the original Host header' {
            $null = Invoke-TestRequest -Uri "http://abc.localhost:$($site.Port)/sub"
            @($site.Requests)[-1].Head | Should -Match "(?m)^Host: abc\.localhost:$($site.Port)\r?$"
        }
    }

    Context 'Wait-Until' {
        It 'returns once the condition holds' {
            $deadline = (Get-Date).AddMilliseconds(200)
            { Wait-Until { (Get-Date) -gt $deadline } -Timeout 5 } | Should -Not -Throw
        }

        It 'throws at the deadline, naming what it waited for' {
            { Wait-Until { $false } -Timeout 0.2 -Because 'never' } | Should -Throw '*Timed out after 0.2 s waiting for never*'
        }
    }

    Context 'Get-FreeTcpPort' {
        It 'returns a port that can be bound on loopback' {
            $port = Get-FreeTcpPort
            $port | Should -BeGreaterThan 0
            $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $port)
            { $listener.Start() } | Should -Not -Throw
            $listener.Stop()
        }
    }
}
