# Start-TunnelServer -Acme: the parameters, their errors, -WhatIf, and a certificate from Debian's pebble (an ACME
# test server on loopback) that curl trusts with pebble's root. The pebble cases are skipped, with the reason, when
# pebble, pebble-challtestsrv or curl is missing.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'Pebble.TestHelpers.psm1') -Force
    $script:NoPebble = -not (Test-PebbleInstalled)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'Pebble.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
}

Describe 'Start-TunnelServer -Acme' {
    AfterEach {
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'orders nothing under -WhatIf and says where the certificates would come from' {
        # A home of its own: other tests of this run may already have made ~/.tunnelps/acme in the run's shared home.
        $whatIfHome = Join-Path $TestDrive 'whatif-home'
        $null = New-Item -ItemType Directory -Path $whatIfHome
        $run = Invoke-FreshPwsh -Script "`$env:HOME = '$whatIfHome'; Import-Module '$(Get-TunnelPSManifestPath)'; Start-TunnelServer -Domain acme.test -Port 0 -HttpPort 8081 -Acme -AcmeAcceptTermsOfService -WhatIf; @(Get-TunnelServer).Count; Test-Path (Join-Path `$env:HOME '.tunnelps/acme')"

        $run.ExitCode | Should -Be 0
        $run.Output | Should -Be @(
            'What if: Performing the operation "Start tunnel server" on target "*.acme.test: a free TLS port, plain HTTP on port 8081, certificates from https://acme-v02.api.letsencrypt.org/directory".'
            '0'
            'False')
    }

    It 'refuses -Acme with a certificate of the user''s' {
        $pfx = Join-Path $TestDrive 'server.pfx'
        $cert = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=acme.test', [System.Security.Cryptography.ECDsa]::Create(), 'SHA256').CreateSelfSigned([DateTimeOffset]::UtcNow, [DateTimeOffset]::UtcNow.AddDays(1))
        [IO.File]::WriteAllBytes($pfx, $cert.Export('Pfx'))

        { Start-TunnelServer -Domain acme.test -Port 0 -HttpPort 0 -CertificatePath $pfx -Acme -AcmeAcceptTermsOfService -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*-Acme and -Certificate*Give one*'
        @(Get-TunnelServer) | Should -HaveCount 0
    }

    It 'refuses -Acme until the terms of service are accepted' {
        { Start-TunnelServer -Domain acme.test -Port 0 -HttpPort 0 -Acme -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*-AcmeAcceptTermsOfService*'
    }

    It 'refuses -Acme for localhost, which no public CA certifies' {
        { Start-TunnelServer -Port 0 -HttpPort 0 -Acme -AcmeAcceptTermsOfService -ErrorAction Stop } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage "*No public CA issues certificates for 'localhost'*"
    }

    It 'refuses an -Acme companion without -Acme' {
        { Start-TunnelServer -Domain acme.test -Port 0 -HttpPort 0 -AcmeEmail admin@acme.test -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*-AcmeEmail configures ACME, but -Acme is not given*'
    }

    It 'reports a wrong key of the config file''s acme section at its line' {
        $config = Join-Path $TestDrive 'acme.yml'
        "domain: acme.test`nacme:`n  accept_terms_of_service: true`n  directroy: https://example.invalid/dir`n" | Set-Content -LiteralPath $config

        { Start-TunnelServer -ConfigPath $config -Port 0 -HttpPort 0 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*acme.yml:4:*directroy*'
    }

    Context 'against pebble' -Skip:$script:NoPebble {
        BeforeAll {
            $script:Tls = Get-FreeTcpPort
            $script:Http = Get-FreeTcpPort
            $script:Pebble = Start-TestPebble -HttpPort $script:Http -TlsPort $script:Tls
        }

        AfterAll {
            Get-TunnelServer | Stop-TunnelServer
            Stop-TestPebble $script:Pebble
        }

        It 'gets a certificate for a tunnel''s name that curl trusts with pebble''s root, shown in Certificates' {
            $site = Start-TestHttpSite -Body 'hello through ACME'
            try {
                $config = Join-Path $TestDrive 'server.yml'
                @"
domain: acme.test
acme:
  directory: $($script:Pebble.Directory)
  email: admin@acme.test
  accept_terms_of_service: true
  root_certificate: $($script:Pebble.RootFile)
"@ | Set-Content -LiteralPath $config
                $server = Start-TunnelServer -ConfigPath $config -Port $script:Tls -HttpPort $script:Http
                $tunnel = Start-Tunnel -Http $site.Port -Subdomain app -Scheme https
                $tunnel.PublicUrl | Should -Be "https://app.acme.test:$script:Tls"

                Wait-Until { @((Get-TunnelServer).Certificates | Where-Object Status -eq Valid).Count -eq 1 } -Timeout 90 -Because 'pebble issues the certificate'

                $certificate = (Get-TunnelServer).Certificates | Select-Object -First 1
                $certificate.Names | Should -Be @('app.acme.test')
                $certificate.Issuer | Should -BeLike '*Pebble*'
                $certificate.NotAfter | Should -BeGreaterThan ([DateTimeOffset]::UtcNow)
                $body = & curl -sS --max-time 20 --cacert $script:Pebble.IssuingRootFile --resolve "app.acme.test:$($script:Tls):127.0.0.1" "https://app.acme.test:$($script:Tls)/"
                $LASTEXITCODE | Should -Be 0
                $body | Should -Be 'hello through ACME'
                ($server.Certificates | Format-Table | Out-String) | Should -Match 'app\.acme\.test\s+Valid'
            }
            finally {
                Get-Tunnel | Stop-Tunnel
                $site.Stop()
            }
        }

        It 'gets the wildcard by DNS-01 through -AcmeDnsScript, run in its own runspace with Add and then Remove' {
            Get-TunnelServer | Stop-TunnelServer
            $calls = Join-Path $TestDrive 'dns-calls.txt'
            # The script is recreated from its text in the hook's runspace: what it needs is written into it.
            $hook = [scriptblock]::Create(@"
param(`$Name, `$Value, `$Action)
Add-Content -LiteralPath '$calls' -Value "`$Action `$Name"
`$api = 'http://127.0.0.1:$($script:Pebble.ChallengeManagementPort)'
if (`$Action -eq 'Add') { Invoke-RestMethod -Method Post -Uri "`$api/set-txt" -Body (@{ host = "`$Name."; value = `$Value } | ConvertTo-Json) | Out-Null }
else { Invoke-RestMethod -Method Post -Uri "`$api/clear-txt" -Body (@{ host = "`$Name." } | ConvertTo-Json) | Out-Null }
"@)
            $server = Start-TunnelServer -Domain acme.test -Port $script:Tls -HttpPort $script:Http -Acme -AcmeAcceptTermsOfService -AcmeDirectory $script:Pebble.Directory -AcmeRootCertificate $script:Pebble.RootFile -AcmeDnsScript $hook
            # The state folder already holds app.acme.test's certificate from the test before: it is served as well.
            $server.Certificates.Names | Should -Contain '*.acme.test'
            $before = @($server.Certificates).Count

            Wait-Until { @((Get-TunnelServer).Certificates | Where-Object { $_.Names -contains '*.acme.test' -and $_.Status -eq 'Valid' }).Count -eq 1 } -Timeout 90 -Because 'pebble issues the wildcard'

            Get-Content -LiteralPath $calls | Should -Be @('Add _acme-challenge.acme.test', 'Remove _acme-challenge.acme.test')
            $site = Start-TestHttpSite -Body 'any name'
            try {
                $tunnel = Start-Tunnel -Http $site.Port -Scheme https
                $hostName = ([uri]$tunnel.PublicUrl).Host
                $body = & curl -sS --max-time 20 --cacert $script:Pebble.IssuingRootFile --resolve "$($hostName):$($script:Tls):127.0.0.1" "https://$($hostName):$($script:Tls)/"
                $LASTEXITCODE | Should -Be 0
                $body | Should -Be 'any name'
                @((Get-TunnelServer).Certificates) | Should -HaveCount $before   # the random name needed no order of its own
            }
            finally {
                Get-Tunnel | Stop-Tunnel
                $site.Stop()
            }
        }
    }
}
