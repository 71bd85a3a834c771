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
  api:    { auth: "user:password", proto: { https: 8080 } }
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
        $config.AuthToken | Should -Be 'abcd…'
        $config.HttpProxy | Should -Be 'http://proxyuser:****@proxy.example.com:3128'
        ($config | Out-String) | Should -Not -BeLike '*very-secret*'
        ($config | ConvertTo-Json -Depth 5) | Should -Not -BeLike '*proxypass*'
        $config.InspectLimit | Should -Be 50
        $config.InspectBodyLimit | Should -Be 1MB
    }

    It 'lists the tunnels with protocols, local addresses, names and auth masked' {
        $tunnels = (Get-TunnelConfig $script:Path).Tunnels

        $tunnels.Name | Should -Be @('blog', 'api', 'personal', 'ssh')
        $tunnels[0].Protocols | Should -Be @('http', 'https')
        $tunnels[0].LocalAddresses | Should -Be @('http=4000', 'https=4000')
        $tunnels[1].Auth | Should -Be 'user:****'
        $tunnels[2].Hostname | Should -Be 'hacks.example.com'
        $tunnels[3].RemotePort | Should -Be 2222
        $tunnels[0].InspectLimit | Should -Be 50
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
