# Get-TunnelConfig: the effective config file, tokens and passwords masked.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-getconfig-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
    $script:Path = Join-Path $script:Dir 'tunnelps.yml'
    Set-Content -LiteralPath $script:Path -Encoding utf8NoBOM -Value @'
server_addr: tunnel.example.com:443
authtoken: "abcdefgh-very-secret-token"
http_proxy: "http://proxyuser:proxypass@proxy.example.com:3128"
inspect_limit: 50
tunnels:
  blog:   { proto: { http: 4000, https: 4000 } }
  api:    { auth: "user:password", proto: { https: 8080 }, allow_ip: [10.0.0.0/8, "2001:db8::/32"], deny_ip: 10.1.2.3 }
  personal: { hostname: "hacks.example.com", proto: { http: 9090 } }
  ssh:    { proto: { tcp: 22 }, remote_port: 2222 }
'@
}

AfterAll {
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Get-TunnelConfig' {
    It 'returns a TunnelPS.TunnelConfig with the token and the proxy password masked' {
        $config = Get-TunnelConfig -ConfigPath $script:Path

        $config | Should -BeOfType ([TunnelPS.TunnelConfig])
        $config.ConfigPath | Should -Be $script:Path
        $config.Exists | Should -BeTrue
        $config.ServerAddress | Should -Be 'tunnel.example.com:443'
        $config.AuthToken | Should -Be '********'
        $config.HttpProxy | Should -Be 'http://proxyuser:********@proxy.example.com:3128'
        ($config | Out-String) | Should -Not -BeLike '*very-secret*'
        ($config | Out-String) | Should -Not -BeLike '*abcd*'
        ($config | ConvertTo-Json -Depth 5) | Should -Not -BeLike '*proxypass*'
        $config.InspectLimit | Should -Be 50
        $config.InspectBodyLimit | Should -Be 1MB
    }

    It 'lists the tunnels with protocols, local addresses, names and auth masked' {
        $tunnels = (Get-TunnelConfig $script:Path).Tunnels

        $tunnels.Name | Should -Be @('blog', 'api', 'personal', 'ssh')
        $tunnels[0].Protocols | Should -Be @('http', 'https')
        $tunnels[0].LocalAddresses | Should -Be @('http=4000', 'https=4000')
        $tunnels[1].Auth | Should -Be 'user:********'
        $tunnels[2].Hostname | Should -Be 'hacks.example.com'
        $tunnels[3].RemotePort | Should -Be 2222
        $tunnels[0].InspectLimit | Should -Be 50
    }

    It 'shows allow_ip and deny_ip of each tunnel (a single entry as a list of one)' {
        $tunnels = (Get-TunnelConfig $script:Path).Tunnels

        $tunnels[1].AllowIP | Should -Be @('10.0.0.0/8', '2001:db8::/32')
        @($tunnels[1].DenyIP) | Should -Be @('10.1.2.3')
        $tunnels[0].AllowIP | Should -HaveCount 0
        $tunnels[0].DenyIP | Should -HaveCount 0
    }

    It 'a bad allow_ip entry is ConfigurationInvalid at the entry, naming it and the tunnel' {
        $bad = Join-Path $script:Dir 'bad-ip.yml'
        Set-Content -LiteralPath $bad -Encoding utf8NoBOM -Value "tunnels:`n  api:`n    proto: { https: 8080 }`n    allow_ip: [10.0.0.0/8, 10.0.0.300]`n"
        $err = { Get-TunnelConfig -ConfigPath $bad -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.GetTunnelConfigCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -BeLike "$($bad):4:28: '10.0.0.300' in 'allow_ip' of tunnel 'api' is not an IP address or a CIDR range. *"
    }

    It 'shows no character of any secret, nor its length, in any view' -ForEach @(
        @{ Token = 'x'; Proxy = 'http://u:p@proxy.example.com:3128'; Auth = 'a:b'; ProxyShown = 'http://u:********@proxy.example.com:3128' }
        @{ Token = 'tok-0123456789-abcdefghij'; Proxy = 'http://u:p%40ss-word-42@proxy.example.com:3128/'; Auth = 'admin:pass-word-43'; ProxyShown = 'http://u:********@proxy.example.com:3128/' }
        @{ Token = 'tok-2'; Proxy = 'http://proxy-key-44@proxy.example.com:3128'; Auth = 'admin:x'; ProxyShown = 'http://********@proxy.example.com:3128' }
    ) {
        $file = Join-Path $script:Dir ("secrets-" + [guid]::NewGuid().ToString('n') + '.yml')
        Set-Content -LiteralPath $file -Encoding utf8NoBOM -Value @"
authtoken: "$Token"
http_proxy: "$Proxy"
tunnels:
  api: { auth: "$Auth", proto: { https: 8080 } }
"@
        $config = Get-TunnelConfig -ConfigPath $file

        $config.AuthToken | Should -Be '********'
        $config.HttpProxy | Should -Be $ProxyShown
        $config.Tunnels[0].Auth | Should -Be ($Auth.Split(':')[0] + ':********')
        $views = @(
            ($config | Format-List * | Out-String)
            ($config | ConvertTo-Json -Depth 5)
            ($config.Tunnels | Format-List * | Out-String)
        ) -join "`n"
        foreach ($secret in $Token, $Auth.Split(':')[1], 'ss-word-42', 'proxy-key-44') {
            if ($secret.Length -gt 1) { $views | Should -Not -Match ([regex]::Escape($secret)) }
        }
    }

    It 'shows the config as a list (trust, inspection, tunnels in one line) and its tunnels as a table' {
        $config = Get-TunnelConfig -ConfigPath $script:Path

        $list = $config | Out-String -Width 200
        $table = $config.Tunnels | Out-String -Width 200

        $list | Should -Match '(?m)^ConfigPath\s+: .*tunnelps\.yml$'
        $list | Should -Match '(?m)^ServerAddress\s+: tunnel\.example\.com:443$'
        $list | Should -Match '(?m)^AuthToken\s+: \*+$'
        $list | Should -Match '(?m)^Inspect\s+: on: 50 requests, 1048576 bytes per body, 67108864 bytes in all$'
        $list | Should -Match '(?m)^Tunnels\s+: blog \(http\+https\), api \(https\), personal \(http\), ssh \(tcp\)$'
        $list | Should -Not -BeLike '*very-secret*'
        $table | Should -Match 'Name\s+Protocols\s+Local\s+PublicName\s+Auth\s+Inspect'
        $table | Should -Match '(?m)^blog\s+http\+https\s+http=4000, https=4000\s+on\s*$'
        $table | Should -Match '(?m)^personal\s+http\s+http=9090\s+hacks\.example\.com\s+on\s*$'
        $table | Should -Match '(?m)^ssh\s+tcp\s+tcp=22\s+port 2222\s+'
        $table | Should -Match '(?m)^api\s+https\s+https=8080\s+user:\*+\s+on\s*$'
    }

    It 'a SHA-1 server_certificate_thumbprint is ConfigurationInvalid at its position; a SHA-256 one is shown normalised' {
        $bad = Join-Path $script:Dir 'sha1.yml'
        Set-Content -LiteralPath $bad -Encoding utf8NoBOM -Value "server_addr: t.example.com`nserver_certificate_thumbprint: `"$((1..20 | ForEach-Object { 'c3' }) -join ':')`"`n"
        $err = { Get-TunnelConfig -ConfigPath $bad -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.GetTunnelConfigCommand' -PassThru
        $err.Exception.Message | Should -BeLike "$($bad):2:32: * is a SHA-1 fingerprint (40 hex digits);*as Get-TunnelServer shows it*"

        $good = Join-Path $script:Dir 'sha256.yml'
        Set-Content -LiteralPath $good -Encoding utf8NoBOM -Value "server_certificate_thumbprint: `"$((1..32 | ForEach-Object { 'c3' }) -join ':')`"`n"
        (Get-TunnelConfig -ConfigPath $good).ServerCertificateThumbprint | Should -Be ('C3' * 32)
    }

    It 'uses $env:TUNNELPS_CONFIG when -ConfigPath is not given' {
        $saved = $env:TUNNELPS_CONFIG
        try {
            $env:TUNNELPS_CONFIG = $script:Path
            (Get-TunnelConfig).ConfigPath | Should -Be $script:Path
        }
        finally { $env:TUNNELPS_CONFIG = $saved }
    }

    It 'a missing default file gives defaults (Exists = false)' {
        $saved = $env:TUNNELPS_CONFIG
        try {
            $env:TUNNELPS_CONFIG = Join-Path $script:Dir 'absent.yml'
            $config = Get-TunnelConfig
            $config.Exists | Should -BeFalse
            $config.Tunnels | Should -BeNullOrEmpty
            $config.InspectLimit | Should -Be 1000
        }
        finally { $env:TUNNELPS_CONFIG = $saved }
    }

    It 'an invalid file is ConfigurationInvalid with file:line:col' {
        $bad = Join-Path $script:Dir 'bad.yml'
        Set-Content -LiteralPath $bad -Value "server_adr: x`n" -Encoding utf8NoBOM
        $err = { Get-TunnelConfig -ConfigPath $bad -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.GetTunnelConfigCommand' -PassThru
        $err.Exception.Message | Should -BeLike "$($bad):1:1: *"
    }
}

Describe 'Get-TunnelConfig with a config file that holds escape sequences' {
    BeforeAll {
        # YAML's double-quoted escapes: \e is ESC, \a is BEL (a shared config file can carry them).
        $hostilePath = Join-Path $script:Dir 'hostile.yml'
        Set-Content -LiteralPath $hostilePath -Encoding utf8NoBOM -Value @'
server_addr: "tunnel.example.com:443"
authtoken_secret: "tunnel-token\e]0;pwned\a\e[2J"
tunnels:
  web: { auth: "admin\e]0;pwned\a\e[2J:password", proto: { http: 3000 } }
'@
        $badPortPath = Join-Path $script:Dir 'hostile-port.yml'
        Set-Content -LiteralPath $badPortPath -Encoding utf8NoBOM -Value 'server_addr: "tunnel.example.com:443\e]0;pwned\a\e[2J"'
        $shown = "$([char]0x241B)]0;pwned$([char]0x2407)$([char]0x241B)[2J"
        $rendering = $PSStyle.OutputRendering
        $PSStyle.OutputRendering = 'Ansi' # as on an interactive terminal: PowerShell strips nothing itself

        # The control characters in text bound for the terminal, but TAB, CR, LF and PowerShell's own colours (SGR).
        function script:Get-UnsafeControl([string] $Text) {
            $withoutSgr = $Text -replace "$([char]27)\[[0-9;]*m", ''
            [regex]::Matches($withoutSgr, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]') | ForEach-Object { '\x{0:X2}' -f [int][char]$_.Value }
        }
    }

    AfterAll {
        $PSStyle.OutputRendering = $rendering
    }

    It 'shows the values with their controls visible and writes none to the terminal' {
        $config = Get-TunnelConfig -ConfigPath $hostilePath

        $config.AuthTokenSecret | Should -BeExactly "tunnel-token$shown"
        $config.Tunnels[0].Auth | Should -BeExactly "admin$($shown):********"
        Get-UnsafeControl ($config | Format-List * | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($config.Tunnels | Format-List * | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($config.Tunnels | Out-String) | Should -BeNullOrEmpty
    }

    It 'quotes an invalid value with its controls visible in the ConfigurationInvalid error' {
        $err = { Get-TunnelConfig -ConfigPath $badPortPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.GetTunnelConfigCommand' -PassThru

        $err.Exception.Message | Should -BeLike "*: The port of server_addr '443*' is out of range. Use a port from 1 to 65535."
        $err.Exception.Message.Contains("'443$shown'") | Should -BeTrue -Because $err.Exception.Message
        Get-UnsafeControl ($err | Out-String) | Should -BeNullOrEmpty
        Get-UnsafeControl ($err | Format-List * -Force | Out-String) | Should -BeNullOrEmpty
    }
}
