# Start-Tunnel end to end: a server in this session, local services, real requests through
# the public URLs.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Start-Tunnel with a server in this session' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'hello through the tunnel'
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $site.Stop()
    }

    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It 'opens http and https by default: one Tunnel per public URL, both serve' {
        $tunnels = Start-Tunnel -Http $site.Port

        $tunnels | Should -HaveCount 2
        $tunnels | ForEach-Object { $_ | Should -BeOfType ([TunnelPS.Tunnel]) }
        $tunnels.Protocol | Should -Be @('http', 'https')
        $tunnels.Name | Select-Object -Unique | Should -Be "http-$($site.Port)"
        $tunnels.Status | Should -Be @('Online', 'Online')
        $tunnels[0].PublicUrl | Should -Match "^http://[a-z0-9]+\.localhost:$($server.HttpPort)$"
        $tunnels[1].PublicUrl | Should -Match "^https://[a-z0-9]+\.localhost:$($server.Port)$"
        $tunnels[0].LocalAddress | Should -Be "localhost:$($site.Port)"
        $tunnels[0].ServerAddress | Should -Be "localhost:$($server.Port)"

        $http = Invoke-TestRequest "$($tunnels[0].PublicUrl)/plain"
        $https = Invoke-TestRequest "$($tunnels[1].PublicUrl)/secure" -SkipCertificateCheck

        $http.StatusCode | Should -Be 200
        $http.Body | Should -Be 'hello through the tunnel'
        $https.StatusCode | Should -Be 200
        $https.Body | Should -Be 'hello through the tunnel'
        $site.Requests.Path | Should -Contain '/plain'
        $site.Requests.Path | Should -Contain '/secure'
        Wait-Until { $tunnels[0].ConnectionCount -ge 1 } -Timeout 5 -Because 'the connection is counted'
    }

    It 'opens one URL with -Scheme http' {
        $tunnel = Start-Tunnel -Http "127.0.0.1:$($site.Port)" -Scheme http

        $tunnel | Should -HaveCount 1
        $tunnel.Protocol | Should -Be 'http'
        $tunnel.LocalAddress | Should -Be "127.0.0.1:$($site.Port)"
        (Invoke-TestRequest $tunnel.PublicUrl).StatusCode | Should -Be 200
    }

    It 'uses -Subdomain for the public name' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Subdomain 'blog'

        $tunnel.PublicUrl | Should -Be "http://blog.localhost:$($server.HttpPort)"
        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'hello through the tunnel'
    }

    It 'echoes through a TCP tunnel' {
        $echo = Start-TestTcpEchoServer
        try {
            $tunnel = Start-Tunnel -Tcp $echo.Port

            $tunnel | Should -HaveCount 1
            $tunnel.Protocol | Should -Be 'tcp'
            $tunnel.Name | Should -Be "tcp-$($echo.Port)"
            $tunnel.PublicUrl | Should -Match '^tcp://localhost:\d+$'
            $publicPort = ([uri]$tunnel.PublicUrl).Port
            Invoke-TcpEcho -HostName 127.0.0.1 -Port $publicPort -Text 'ping over tcp' | Should -Be 'ping over tcp'
        }
        finally { $echo.Stop() }
    }

    It 'runs two tunnels at once, each to its own service' {
        $other = Start-TestHttpSite -Body 'the other site'
        try {
            $one = Start-Tunnel -Http $site.Port -Scheme http -Name 'one'
            $two = Start-Tunnel -Http $other.Port -Scheme http -Name 'two'

            (Get-Tunnel).Name | Should -Be @('one', 'two')
            (Invoke-TestRequest $one.PublicUrl).Body | Should -Be 'hello through the tunnel'
            (Invoke-TestRequest $two.PublicUrl).Body | Should -Be 'the other site'
        }
        finally { $other.Stop() }
    }

    It 'makes default names unique in the session' {
        $first = Start-Tunnel -Http $site.Port -Scheme http
        $second = Start-Tunnel -Http $site.Port -Scheme http

        $first.Name | Should -Be "http-$($site.Port)"
        $second.Name | Should -Be "http-$($site.Port)-2"
    }

    It 'refuses a -Name a running tunnel has' {
        $null = Start-Tunnel -Http $site.Port -Scheme http -Name 'taken'

        { Start-Tunnel -Http $site.Port -Scheme http -Name 'taken' } |
            Should -Throw -ErrorId 'TunnelNameInUse,TunnelPS.Commands.StartTunnelCommand'
    }

    It 'asks for basic auth with -Credential: 401 without, 200 with' {
        $password = ConvertTo-SecureString 'pa55word' -AsPlainText -Force
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Credential ([pscredential]::new('alice', $password))

        $anonymous = Invoke-TestRequest $tunnel.PublicUrl
        $basic = [Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes('alice:pa55word'))
        $authorized = Invoke-TestRequest $tunnel.PublicUrl -Headers @{ Authorization = "Basic $basic" }

        $anonymous.StatusCode | Should -Be 401
        $anonymous.Headers['WWW-Authenticate'] | Should -BeLike 'Basic*'
        $authorized.StatusCode | Should -Be 200
        $authorized.Body | Should -Be 'hello through the tunnel'
    }

    It 'answers 502 naming the local address when nothing listens there' {
        $closed = Get-FreeTcpPort
        $tunnel = Start-Tunnel -Http $closed -Scheme http

        $response = Invoke-TestRequest $tunnel.PublicUrl

        $response.StatusCode | Should -Be 502
        $response.Body | Should -BeLike "*localhost:$closed*"
    }

    It 'connects with an explicit -ServerAddress and -ServerCertificateThumbprint' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -ServerAddress "127.0.0.1:$($server.Port)" -ServerCertificateThumbprint $server.CertificateThumbprint

        $tunnel.ServerAddress | Should -Be "127.0.0.1:$($server.Port)"
        (Invoke-TestRequest $tunnel.PublicUrl).StatusCode | Should -Be 200
    }

    It 'refuses a server whose certificate does not match -ServerCertificateThumbprint' {
        $wrong = 'AB' * 32
        { Start-Tunnel -Http $site.Port -ServerAddress "127.0.0.1:$($server.Port)" -ServerCertificateThumbprint $wrong } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
        @(Get-Tunnel) | Should -HaveCount 0
    }

    It 'refuses a SHA-1 (40 hex digit) -ServerCertificateThumbprint, saying to give the SHA-256 fingerprint' {
        $sha1 = (1..20 | ForEach-Object { 'A1' }) -join ':'
        $err = { Start-Tunnel -Http $site.Port -ServerAddress "127.0.0.1:$($server.Port)" -ServerCertificateThumbprint $sha1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be $sha1
        $err.Exception.Message | Should -Be ("-ServerCertificateThumbprint: '$sha1' is a SHA-1 fingerprint (40 hex digits); TunnelPS pins the SHA-256 fingerprint of the server certificate, so this pin could never match. " +
            "Give the server certificate's SHA-256 fingerprint: 64 hex digits, as Get-TunnelServer shows it in CertificateThumbprint (spaces, colons and dashes are ignored).")
        @(Get-Tunnel) | Should -HaveCount 0
    }

    It 'rewrites the Host header for the local service with -HostHeader rewrite, keeping the original in X-Forwarded-Host' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -HostHeader rewrite

        (Invoke-TestRequest "$($tunnel.PublicUrl)/rehost").StatusCode | Should -Be 200

        $head = ($site.Requests | Where-Object Path -EQ '/rehost' | Select-Object -Last 1).Head
        $head | Should -Match "(?m)^Host: localhost:$($site.Port)\r?$"
        $head | Should -Match ("(?m)^X-Forwarded-Host: " + [regex]::Escape(([uri]$tunnel.PublicUrl).Authority))
    }

    It 'completes -HostHeader with rewrite, preserve and the local address of -Http' {
        $line = 'Start-Tunnel -Http 3000 -HostHeader '
        $matches = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
        $matches.CompletionText | Should -Be @('rewrite', 'preserve', 'localhost:3000', 'localhost')
        $matches[0].ToolTip | Should -BeLike '*X-Forwarded-Host*'

        $line = 'Start-Tunnel -Http http://[::1]:8080 -HostHeader '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Be @('rewrite', 'preserve', "'[::1]:8080'", '::1')

        $line = 'Start-Tunnel -Http 3000 -HostHeader re'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('rewrite')
    }

    It 'completes -HostHeader with the local addresses of running http tunnels when -Http is not typed yet' {
        $null = Start-Tunnel -Http "127.0.0.1:$($site.Port)" -Scheme http

        $line = 'Start-Tunnel -HostHeader 127'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Be @("127.0.0.1:$($site.Port)", '127.0.0.1')
    }

    It 'opens nothing with -WhatIf, and keeps no name reserved' {
        $result = Start-Tunnel -Http $site.Port -Subdomain 'whatif' -WhatIf

        $result | Should -BeNullOrEmpty
        @(Get-Tunnel) | Should -HaveCount 0
        $server.Tunnels | Should -BeNullOrEmpty
        (Start-Tunnel -Http $site.Port -Scheme http)[0].Name | Should -Be "http-$($site.Port)"
    }

    It 'says under -WhatIf which tunnel it would open, one line per tunnel' {
        $run = Invoke-FreshPwsh -Script @"
Import-Module '$(Get-TunnelPSManifestPath)'
`$server = Start-TunnelServer -Port 0 -HttpPort -1 -WarningAction Ignore
Start-Tunnel -Http 3000 -WhatIf
Start-Tunnel -Http 3000 -Subdomain blog -Name web -WhatIf
Start-Tunnel -Tcp 22 -RemotePort 2222 -WhatIf
"tunnels: `$(@(Get-Tunnel).Count) port: `$(`$server.Port)"
"@

        $run.ExitCode | Should -Be 0
        $port = ($run.Output[-1] -split 'port: ')[1]
        $run.Output | Should -Be @(
            "What if: Performing the operation ""Open tunnel"" on target ""localhost:3000 (https) on localhost:$port""."
            "What if: Performing the operation ""Open tunnel"" on target ""'web': localhost:3000 (https, as blog) on localhost:$port""."
            "What if: Performing the operation ""Open tunnel"" on target ""localhost:22 (tcp, remote port 2222) on localhost:$port""."
            "tunnels: 0 port: $port")
    }

    It 'captures nothing with -NoInspect' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -NoInspect -Name 'quiet'

        (Invoke-TestRequest "$($tunnel.PublicUrl)/unseen").StatusCode | Should -Be 200

        Get-TunnelRequest -Tunnel 'quiet' | Should -BeNullOrEmpty
    }

    It 'keeps the captures of a stopped tunnel when the same tunnel starts again (<Case>): old ids stay, new requests join the name' -ForEach @(
        @{ Case = 'default name'; Named = $false }
        @{ Case = '-Name'; Named = $true }
    ) {
        Clear-TunnelRequest -All
        $named = if ($Named) { @{ Name = 'again' } } else { @{} }
        $first = Start-Tunnel -Http $site.Port -Scheme http @named
        $name = $first.Name
        1..3 | ForEach-Object { (Invoke-TestRequest "$($first.PublicUrl)/before/$_").StatusCode | Should -Be 200 }
        Wait-Until { @(Get-TunnelRequest -Tunnel $name).Count -ge 3 } -Timeout 10 -Because 'three requests are captured'
        $first | Stop-Tunnel
        $before = @(Get-TunnelRequest -Tunnel $name)

        $second = Start-Tunnel -Http $site.Port -Scheme http @named

        $second.Name | Should -Be $name
        $kept = @(Get-TunnelRequest -Tunnel $name)
        $kept.Path | Should -Be @('/before/1', '/before/2', '/before/3') -Because 'starting the tunnel again must not delete its captures'
        $kept.Id | Should -Be $before.Id
        (Invoke-TestRequest "$($second.PublicUrl)/after").StatusCode | Should -Be 200
        Wait-Until { @(Get-TunnelRequest -Tunnel $name).Count -ge 4 } -Timeout 10 -Because 'the new request is captured'
        $all = @(Get-TunnelRequest -Tunnel $name)
        $all.Path | Should -Be @('/before/1', '/before/2', '/before/3', '/after')
        $all[3].Id | Should -BeGreaterThan $before[2].Id -Because 'ids go on counting'
        @($second | Get-TunnelRequest) | Should -HaveCount 4
        (Get-TunnelRequest -Id $before[0].Id).Path | Should -Be '/before/1'
    }

    It 'keeps at most -InspectBodyLimit bytes of a body and marks the capture truncated' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -InspectBodyLimit 16 -Name 'small'

        (Invoke-TestRequest "$($tunnel.PublicUrl)/upload" -Method POST -Body ('x' * 100)).StatusCode | Should -Be 200

        Wait-Until { Get-TunnelRequest -Tunnel 'small' -Path '/upload' } -Timeout 10 -Because 'the exchange is captured'
        $request = Get-TunnelRequest -Tunnel 'small' -Path '/upload' | Select-Object -Last 1
        $request.Truncated | Should -BeTrue
        $request.RequestBody.Length | Should -Be 16
    }

    It 'names a clash by the local address when the user gave no -Name, not by a name they never typed' {
        $held = Start-Tunnel -Http $site.Port -Subdomain 'clash'

        $err = { Start-Tunnel -Http $site.Port -Subdomain 'clash' -ErrorAction Stop } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'ResourceExists'
        $err.TargetObject | Should -Be "$($site.Port)"
        $err.Exception.Message | Should -Be ("The tunnel server refused the tunnel to localhost:$($site.Port): The tunnel $($held[0].PublicUrl) " +
            'is already open in another session of the same token. Stop that tunnel first (Stop-Tunnel), or choose another name.')
        @(Get-Tunnel) | Should -HaveCount 2
    }

    It 'names a clash by -Name when the user gave one' {
        $held = Start-Tunnel -Http $site.Port -Scheme http -Subdomain 'clash-named'

        $err = { Start-Tunnel -Http $site.Port -Scheme http -Subdomain 'clash-named' -Name 'mine' -ErrorAction Stop } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand' -PassThru

        $err.Exception.Message | Should -BeLike "The tunnel server refused the tunnel 'mine': The tunnel $($held.PublicUrl) is already open*"
    }

    It 'rejects a local address that is not a port, host:port or URL' {
        { Start-Tunnel -Http 'localhost' } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand'
    }
}

Describe 'Start-Tunnel against a server that requires a token' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'right-token'
        $site = Start-TestHttpSite -Body 'token ok'
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $site.Stop()
    }

    It 'fails with a clear authentication error for a wrong token' {
        { Start-Tunnel -Http $site.Port -AuthToken 'wrong-token' } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        $Error[0].Exception.Message | Should -BeLike '*auth token was refused*'
        $Error[0].Exception.Message | Should -BeLike '*Check the token*'
        $Error[0].Exception.Message | Should -Not -BeLike '*none was given*'
        $Error[0].TargetObject | Should -Be "$($site.Port)"
        @(Get-Tunnel) | Should -HaveCount 0
    }

    It 'opens the tunnel with the right token' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http -AuthToken 'right-token'
        (Invoke-TestRequest $tunnel.PublicUrl).Body | Should -Be 'token ok'
    }

    It 'uses the token of the session server when -AuthToken is omitted' {
        $tunnel = Start-Tunnel -Http $site.Port -Scheme http
        $tunnel.Status | Should -Be 'Online'
    }
}

Describe 'Start-Tunnel without a server' {
    BeforeAll {
        Get-TunnelServer | Stop-TunnelServer
        $savedConfig = $env:TUNNELPS_CONFIG
        $env:TUNNELPS_CONFIG = Join-Path $TestDrive 'no-such-config.yml'
    }

    AfterAll {
        $env:TUNNELPS_CONFIG = $savedConfig
    }

    It 'falls back on server_addr and authtoken of the config file when no server is named or running' {
        $closed = Get-FreeTcpPort
        $config = Join-Path $TestDrive 'fallback.yml'
        Set-Content -LiteralPath $config -Value "server_addr: 127.0.0.1:$closed`nauthtoken: not-used-here`nskip_certificate_check: true"
        $env:TUNNELPS_CONFIG = $config
        try {
            { Start-Tunnel -Http 3000 } | Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
            $Error[0].Exception.Message | Should -BeLike "*127.0.0.1:$closed*"
        }
        finally {
            $env:TUNNELPS_CONFIG = Join-Path $TestDrive 'no-such-config.yml'
        }
    }

    It 'says how to name a server when none runs in the session and -ServerAddress is missing' {
        { Start-Tunnel -Http 3000 } |
            Should -Throw -ErrorId 'ServerNotSpecified,TunnelPS.Commands.StartTunnelCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $Error[0].Exception.Message | Should -BeLike '*-ServerAddress*Start-TunnelServer*'
    }

    It 'names a port that ends the TLS handshake in one clean sentence (no doubled period after the TLS error)' {
        if (-not ('TunnelPS.Tests.HangUpListener' -as [type])) {
            Add-Type -TypeDefinition @'
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace TunnelPS.Tests
{
    /// <summary>Accepts connections on loopback and at once ends its side of each (FIN), as a port that is not TLS may.</summary>
    public sealed class HangUpListener : System.IDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly List<Socket> _accepted = new List<Socket>();

        public HangUpListener()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptLoopAsync();
        }

        public int Port { get; }

        private async Task AcceptLoopAsync()
        {
            try
            {
                while (true)
                {
                    Socket socket = await _listener.AcceptSocketAsync().ConfigureAwait(false);
                    socket.Shutdown(SocketShutdown.Send);
                    lock (_accepted) { _accepted.Add(socket); }
                }
            }
            catch (System.Exception) { }
        }

        public void Dispose()
        {
            _listener.Stop();
            lock (_accepted) { foreach (Socket socket in _accepted) { socket.Dispose(); } }
        }
    }
}
'@
        }
        $hangUp = [TunnelPS.Tests.HangUpListener]::new()
        try {
            $err = { Start-Tunnel -Http 3000 -ServerAddress "127.0.0.1:$($hangUp.Port)" -SkipCertificateCheck -ErrorAction Stop } |
                Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand' -PassThru
        }
        finally { $hangUp.Dispose() }

        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Be ("The TLS handshake with the tunnel server 127.0.0.1:$($hangUp.Port) failed: " +
            "Received an unexpected EOF or 0 bytes from the transport stream. Is 127.0.0.1:$($hangUp.Port) a TunnelPS or ngrok server port?")
    }

    It 'reports an unreachable -ServerAddress as a connection error' {
        $closed = Get-FreeTcpPort
        { Start-Tunnel -Http 3000 -ServerAddress "127.0.0.1:$closed" -SkipCertificateCheck } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'ConnectionError'
    }
}
