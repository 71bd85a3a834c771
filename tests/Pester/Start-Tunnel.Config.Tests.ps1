# Start-Tunnel -Name / -All: named tunnels from the YAML config file (the seed example of issue 4),
# tokens from SecretManagement (through the test stand-in module), and config errors with file:line:col.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer

    $script:TestModules = Join-Path $PSScriptRoot 'TestModules'
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-config-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir

    function New-SeedConfig {
        # The seed example of issue 4, with the test sites' ports in place of 4000/8080/9090/22.
        param([string] $Path, [string] $Head)
        $text = @"
$Head
tunnels:
  blog:   { proto: { http: $($blogSite.Port), https: $($blogSite.Port) } }
  api:    { auth: "user:password", proto: { https: $($apiSite.Port) } }
  personal: { hostname: "hacks.example.com", proto: { http: $($personalSite.Port) } }
  ssh:    { proto: { tcp: $($sshSite.Port) } }
"@
        Set-Content -LiteralPath $Path -Value $text -Encoding utf8NoBOM
        $Path
    }

    function Get-Basic([string] $UserPassword) {
        'Basic ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($UserPassword))
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-Tunnel with the seed config' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'seed-token-1234' -AllowedHostname 'hacks.example.com'
        $blogSite = Start-TestHttpSite -Body 'blog'
        $apiSite = Start-TestHttpSite -Body 'api'
        $personalSite = Start-TestHttpSite -Body 'personal'
        $sshSite = Start-TestHttpSite -Body 'ssh-as-raw-tcp'
        $seed = New-SeedConfig -Path (Join-Path $script:Dir 'seed.yml') -Head @"
server_addr: "localhost:$($server.Port)"
authtoken: "seed-token-1234"
"@
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $blogSite, $apiSite, $personalSite, $sshSite | ForEach-Object { $_.Stop() }
    }

    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It '-Name blog,api opens exactly those: one Tunnel per public URL, all served' {
        $tunnels = Start-Tunnel -Name blog, api -ConfigPath $seed

        $tunnels | Should -HaveCount 3
        @($tunnels | ForEach-Object { "$($_.Name)/$($_.Protocol)" }) | Should -Be @('blog/http', 'blog/https', 'api/https')
        $tunnels.Status | Select-Object -Unique | Should -Be 'Online'
        $tunnels.ServerAddress | Select-Object -Unique | Should -Be "localhost:$($server.Port)"

        $blogHttp, $blogHttps, $api = $tunnels
        (Invoke-TestRequest $blogHttp.PublicUrl).Body | Should -Be 'blog'
        (Invoke-TestRequest $blogHttps.PublicUrl -SkipCertificateCheck).Body | Should -Be 'blog'

        (Invoke-TestRequest $api.PublicUrl -SkipCertificateCheck).StatusCode | Should -Be 401
        $authorized = Invoke-TestRequest $api.PublicUrl -SkipCertificateCheck -Headers @{ Authorization = (Get-Basic 'user:password') }
        $authorized.StatusCode | Should -Be 200
        $authorized.Body | Should -Be 'api'
    }

    It 'captures the traffic of named tunnels for Get-TunnelRequest, like -Http tunnels' {
        $tunnels = Start-Tunnel -Name blog -ConfigPath $seed
        (Invoke-TestRequest "$($tunnels[0].PublicUrl)/from-config").Body | Should -Be 'blog'

        Wait-Until { Get-TunnelRequest -Tunnel blog -Path '/from-config' } -Timeout 10 -Because 'the exchange is captured'
        (Get-TunnelRequest -Tunnel blog -Path '/from-config' | Select-Object -Last 1).Status | Should -Be 200
    }

    It 'keeps the captures of a named tunnel when it starts again, the new requests joining them' {
        Clear-TunnelRequest -All
        $first = Start-Tunnel -Name blog -ConfigPath $seed
        1..3 | ForEach-Object { (Invoke-TestRequest "$($first[0].PublicUrl)/restart/$_").Body | Should -Be 'blog' }
        Wait-Until { @(Get-TunnelRequest -Tunnel blog).Count -ge 3 } -Timeout 10 -Because 'three requests are captured'
        $first | Stop-Tunnel

        $second = Start-Tunnel -Name blog -ConfigPath $seed

        @(Get-TunnelRequest -Tunnel blog).Path | Should -Be @('/restart/1', '/restart/2', '/restart/3') -Because 'starting the tunnel again must not delete its captures'
        (Invoke-TestRequest "$($second[0].PublicUrl)/restart/4").Body | Should -Be 'blog'
        Wait-Until { @(Get-TunnelRequest -Tunnel blog).Count -ge 4 } -Timeout 10 -Because 'the new request is captured'
        @(Get-TunnelRequest -Tunnel blog).Path | Should -Be @('/restart/1', '/restart/2', '/restart/3', '/restart/4')
    }

    It 'opens the named tunnels over ONE client (one control connection)' {
        $tunnels = Start-Tunnel -Name 'b*', api -ConfigPath $seed
        $clients = @($tunnels | ForEach-Object { $_.GetType().GetProperty('Client', [Reflection.BindingFlags]'NonPublic,Instance').GetValue($_) } | Select-Object -Unique)
        $clients | Should -HaveCount 1
    }

    It '-All opens every tunnel: blog http+https, api https, personal on hacks.example.com, ssh tcp' {
        $tunnels = Start-Tunnel -All -ConfigPath $seed

        @($tunnels | ForEach-Object { "$($_.Name)/$($_.Protocol)" }) |
            Should -Be @('blog/http', 'blog/https', 'api/https', 'personal/http', 'ssh/tcp')
        $personal = $tunnels | Where-Object Name -EQ 'personal'
        $personal.PublicUrl | Should -Be "http://hacks.example.com:$($server.HttpPort)"
        $viaHostname = Invoke-TestRequest "http://127.0.0.1:$($server.HttpPort)/" -HostHeader "hacks.example.com:$($server.HttpPort)"
        $viaHostname.Body | Should -Be 'personal'

        $ssh = $tunnels | Where-Object Name -EQ 'ssh'
        $ssh.PublicUrl | Should -Match '^tcp://[^:]+:\d+$'
        $port = ([uri]$ssh.PublicUrl).Port
        (Invoke-TestRequest "http://127.0.0.1:$port/raw").Body | Should -Be 'ssh-as-raw-tcp'
    }

    It 'opens none of the named tunnels with -WhatIf' {
        $result = Start-Tunnel -Name blog, api -ConfigPath $seed -WhatIf

        $result | Should -BeNullOrEmpty
        @(Get-Tunnel) | Should -HaveCount 0
        $server.Tunnels | Should -BeNullOrEmpty
        # The names were never reserved.
        (Start-Tunnel -Name blog -ConfigPath $seed).Name | Select-Object -Unique | Should -Be 'blog'
    }

    It 'falls back on the session server when the file names none' {
        $noServer = New-SeedConfig -Path (Join-Path $script:Dir 'no-server.yml') -Head 'authtoken: "seed-token-1234"'
        $tunnels = Start-Tunnel -Name blog -ConfigPath $noServer
        $tunnels | Should -HaveCount 2
        (Invoke-TestRequest $tunnels[0].PublicUrl).Body | Should -Be 'blog'
    }

    It 'takes the file from $env:TUNNELPS_CONFIG' {
        $saved = $env:TUNNELPS_CONFIG
        try {
            $env:TUNNELPS_CONFIG = $seed
            $tunnels = Start-Tunnel -Name ssh
            $tunnels.Name | Should -Be 'ssh'
        }
        finally { $env:TUNNELPS_CONFIG = $saved }
    }

    It 'completes -Name from the config file, with a wildcard prefix' {
        $result = TabExpansion2 -inputScript "Start-Tunnel -ConfigPath '$seed' -Name " -cursorColumn ("Start-Tunnel -ConfigPath '$seed' -Name ".Length)
        @($result.CompletionMatches.CompletionText) | Should -Be @('blog', 'api', 'personal', 'ssh')
        $line = "Start-Tunnel -ConfigPath '$seed' -Name p"
        $result = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($result.CompletionMatches.CompletionText) | Should -Be @('personal')
    }

    It 'a -AuthToken parameter wins over the file' {
        { Start-Tunnel -Name blog -ConfigPath $seed -AuthToken 'wrong-token' -ErrorAction Stop } |
            Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
    }

    Context 'errors name the file, line and column' {
        It 'a misspelt name gets a did-you-mean, like the file''s own typos' {
            $err = { Start-Tunnel -Name blgo -ConfigPath $seed -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -BeLike "$($seed):*:*: No tunnel named 'blgo' (did you mean 'blog'?) is defined in this file; its tunnels are: blog, api, personal, ssh*"
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'an unknown name lists the defined names' {
            $err = { Start-Tunnel -Name blog, nosuch -ConfigPath $seed -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'InvalidData'
            $err.Exception.Message | Should -BeLike "$($seed):*:*: No tunnel named 'nosuch'*blog, api, personal, ssh*"
            $err.Exception.Message | Should -Match ([regex]::Escape($seed) + ':4:3: ')
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'a YAML syntax error' {
            $bad = Join-Path $script:Dir 'syntax.yml'
            Set-Content -LiteralPath $bad -Value "tunnels:`n  blog: { proto: { http: 4000 }`n" -Encoding utf8NoBOM
            $err = { Start-Tunnel -Name blog -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -Match ([regex]::Escape($bad) + ':\d+:\d+: ')
        }

        It 'an unknown key, with its position' {
            $bad = Join-Path $script:Dir 'unknown-key.yml'
            Set-Content -LiteralPath $bad -Value "tunnels:`n  blog:`n    prot: { http: 4000 }`n" -Encoding utf8NoBOM
            $err = { Start-Tunnel -Name blog -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -BeLike "$($bad):3:5: *prot*"
        }

        It 'a bad value' {
            $bad = Join-Path $script:Dir 'bad-value.yml'
            Set-Content -LiteralPath $bad -Value "tunnels:`n  blog: { proto: { http: 70000 } }`n" -Encoding utf8NoBOM
            $err = { Start-Tunnel -Name blog -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -Match ([regex]::Escape($bad) + ':2:\d+: ')
        }

        It 'a SHA-1 server_certificate_thumbprint, at its position, saying to give the SHA-256 fingerprint' {
            $bad = Join-Path $script:Dir 'sha1-pin.yml'
            Set-Content -LiteralPath $bad -Value "server_certificate_thumbprint: $('0123456789' * 4)`ntunnels:`n  blog: { proto: { http: 4000 } }`n" -Encoding utf8NoBOM
            $err = { Start-Tunnel -Name blog -ConfigPath $bad -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.Exception.Message | Should -BeLike "$($bad):1:32: 'server_certificate_thumbprint': '0123456789*' is a SHA-1 fingerprint (40 hex digits);*SHA-256 fingerprint: 64 hex digits, as Get-TunnelServer shows it*"
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'a SHA-1 -ServerCertificateThumbprint with named tunnels is InvalidArgument' {
            $err = { Start-Tunnel -Name blog -ConfigPath $seed -ServerCertificateThumbprint ('ab' * 20) -ErrorAction Stop } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $err.Exception.Message | Should -BeLike "-ServerCertificateThumbprint: '$('ab' * 20)' is a SHA-1 fingerprint (40 hex digits);*"
            Get-Tunnel | Should -BeNullOrEmpty
        }

        It 'a missing file is ObjectNotFound' {
            $err = { Start-Tunnel -Name blog -ConfigPath (Join-Path $script:Dir 'none.yml') -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
    }
}

Describe 'Auth tokens from SecretManagement' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0 -AuthToken 'secret-token-5678'
        $blogSite = Start-TestHttpSite -Body 'blog'
        $apiSite = Start-TestHttpSite -Body 'api'
        $personalSite = Start-TestHttpSite -Body 'personal'
        $sshSite = Start-TestHttpSite -Body 'ssh'
        $savedModulePath = $env:PSModulePath
        $env:PSModulePath = $script:TestModules + [IO.Path]::PathSeparator + $env:PSModulePath
        Import-Module Microsoft.PowerShell.SecretManagement -Force
        Reset-TestSecretStore
        Set-Secret -Name TunnelToken -Secret 'secret-token-5678' -Vault OtherVault
        Set-Secret -Name DefaultVaultToken -Secret 'secret-token-5678'
        $fromSecret = New-SeedConfig -Path (Join-Path $script:Dir 'secret.yml') -Head @"
server_addr: "localhost:$($server.Port)"
authtoken: "not-the-token"
authtoken_secret: TunnelToken
authtoken_vault: OtherVault
"@
        $missing = New-SeedConfig -Path (Join-Path $script:Dir 'missing-secret.yml') -Head @"
server_addr: "localhost:$($server.Port)"
authtoken_secret: NoSuchSecret
authtoken_vault: OtherVault
"@
    }

    AfterAll {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $blogSite, $apiSite, $personalSite, $sshSite | ForEach-Object { $_.Stop() }
        Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
        $env:PSModulePath = $savedModulePath
    }

    AfterEach {
        Get-Tunnel | Stop-Tunnel
    }

    It 'authtoken_secret + authtoken_vault resolve through Get-Secret (and win over authtoken)' {
        $tunnels = Start-Tunnel -Name blog -ConfigPath $fromSecret
        $tunnels.Status | Select-Object -Unique | Should -Be 'Online'
    }

    It '-AuthTokenSecret reads the default vault' {
        $tunnels = Start-Tunnel -Name ssh -ConfigPath $missing -AuthTokenSecret DefaultVaultToken
        $tunnels.Status | Should -Be 'Online'
    }

    It '-AuthTokenSecret works with -Http too' {
        $tunnels = Start-Tunnel -Http $blogSite.Port -ServerAddress "localhost:$($server.Port)" -AuthTokenSecret DefaultVaultToken
        $tunnels.Status | Select-Object -Unique | Should -Be 'Online'
    }

    It 'a missing secret is ObjectNotFound, naming the secret and the vault' {
        $err = { Start-Tunnel -Name blog -ConfigPath $missing -ErrorAction Stop } |
            Should -Throw -ErrorId 'SecretNotFound,TunnelPS.Commands.StartTunnelCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -BeLike "*'NoSuchSecret'*'OtherVault'*"
    }

    It 'Start-TunnelServer -AuthTokenSecret accepts the secret as a token' {
        $other = Start-TunnelServer -Port 0 -HttpPort 0 -AuthTokenSecret DefaultVaultToken
        try {
            $tunnels = Start-Tunnel -Http $blogSite.Port -ServerAddress "localhost:$($other.Port)" -AuthToken 'secret-token-5678'
            $tunnels.Status | Select-Object -Unique | Should -Be 'Online'
            { Start-Tunnel -Http $blogSite.Port -ServerAddress "localhost:$($other.Port)" -AuthToken 'nope' -ErrorAction Stop } |
                Should -Throw -ErrorId 'TunnelStartFailed,TunnelPS.Commands.StartTunnelCommand'
        }
        finally { $other | Stop-TunnelServer }
    }

    It 'without SecretManagement: a clear NotInstalled error that says how to install it' {
        Remove-Module Microsoft.PowerShell.SecretManagement -Force
        $env:PSModulePath = $savedModulePath
        try {
            $err = { Start-Tunnel -Name blog -ConfigPath $fromSecret -ErrorAction Stop } |
                Should -Throw -ErrorId 'SecretManagementNotInstalled,TunnelPS.Commands.StartTunnelCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'NotInstalled'
            $err.Exception.Message | Should -BeLike '*Install-PSResource Microsoft.PowerShell.SecretManagement*'
            { Start-TunnelServer -Port 0 -HttpPort 0 -AuthTokenSecret DefaultVaultToken -ErrorAction Stop } |
                Should -Throw -ErrorId 'SecretManagementNotInstalled,TunnelPS.Commands.StartTunnelServerCommand'
        }
        finally {
            $env:PSModulePath = $script:TestModules + [IO.Path]::PathSeparator + $savedModulePath
            Import-Module Microsoft.PowerShell.SecretManagement -Force
        }
    }
}
