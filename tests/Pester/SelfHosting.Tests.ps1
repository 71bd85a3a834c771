# docs/self-hosting.md, the steps that loopback allows: the token file command of step 3 (as the guide prints it),
# the server config of step 4 with pebble as the ACME directory, the server's start, a client's first tunnel (step 6)
# and curl trusting its certificate with pebble's root. Skipped, with the reason, without pebble or curl.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'Pebble.TestHelpers.psm1') -Force
    $script:NoPebble = -not (Test-PebbleInstalled)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'Pebble.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Guide = Get-Content -Raw -LiteralPath (Join-Path (Get-RepositoryRoot) 'docs/self-hosting.md')

    # The fenced blocks under a step's heading, in order.
    function Get-GuideBlock([string] $Heading) {
        $section = ($script:Guide -split '(?m)^### ') | Where-Object { $_.StartsWith($Heading) } | Select-Object -First 1
        [regex]::Matches($section, '(?ms)^```\w*\r?\n(.*?)^```') | ForEach-Object { $_.Groups[1].Value }
    }
}

Describe 'docs/self-hosting.md' {
    It 'has six steps on Linux, each with a command to paste' {
        $steps = [regex]::Matches($script:Guide, '(?m)^### (\d)\. ') | ForEach-Object { [int]$_.Groups[1].Value }
        $steps | Should -Be @(1, 2, 3, 4, 5, 6)
        foreach ($n in 1..6) { @(Get-GuideBlock "$n. ").Count | Should -BeGreaterThan 0 -Because "step $n has a command" }
    }

    Context 'the steps loopback allows, against pebble' -Skip:$script:NoPebble {
        BeforeAll {
            $script:Tls = Get-FreeTcpPort
            $script:Http = Get-FreeTcpPort
            $script:Pebble = Start-TestPebble -HttpPort $script:Http -TlsPort $script:Tls
            $script:Etc = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'etc-tunnelps')).FullName
        }

        AfterAll {
            Get-Tunnel | Stop-Tunnel
            Get-TunnelServer | Stop-TunnelServer
            Stop-TestPebble $script:Pebble
        }

        It 'goes from the token file to a trusted HTTPS response through a client''s first tunnel' {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            # Step 3: the guide's pwsh command, with the folder of this test instead of /etc/tunnelps.
            $step3 = @(Get-GuideBlock '3. ')[0] -split "`n" | Where-Object { $_ -like 'sudo pwsh *' } | Select-Object -First 1
            $command = [regex]::Match($step3, "-Command '(.*)'$").Groups[1].Value.Replace('/etc/tunnelps', $script:Etc)
            $printed = & ([scriptblock]::Create($command))
            $token = ($printed -replace '^Your token: ', '')
            $token | Should -Match '^[0-9a-f]{32}$'

            # Step 4: the guide's server.yml, with loopback's domain, ports and pebble for Let's Encrypt.
            $yaml = [regex]::Match(@(Get-GuideBlock '4. ')[0], "(?ms)<<'EOF'\r?\n(.*?)^EOF").Groups[1].Value
            $yaml = $yaml.Replace('tunnel.example.com', 'selfhost.test').Replace('port: 443', "port: $script:Tls").Replace('http_port: 80', "http_port: $script:Http")
            $yaml += "  directory: $($script:Pebble.Directory)`n  root_certificate: $($script:Pebble.RootFile)`n"
            $yaml | Set-Content -LiteralPath (Join-Path $script:Etc 'server.yml')
            $yaml | Should -Match 'accept_terms_of_service: true'
            $server = Start-TunnelServer -ConfigPath (Join-Path $script:Etc 'server.yml') -BindAddress 127.0.0.1
            $server.Anonymous | Should -BeFalse

            # Step 6: a client's first tunnel, with the token and the fingerprint the server shows.
            $site = Start-TestHttpSite -Body 'first tunnel'
            try {
                $tunnel = Start-Tunnel -Http $site.Port -Scheme https -ServerAddress "127.0.0.1:$script:Tls" -AuthToken $token -ServerCertificateThumbprint $server.CertificateThumbprint
                $hostName = ([uri]$tunnel.PublicUrl).Host
                $hostName | Should -BeLike '*.selfhost.test'
                Wait-Until { @((Get-TunnelServer).Certificates | Where-Object { $_.Names -contains $hostName -and $_.Status -eq 'Valid' }).Count -eq 1 } -Timeout 90 -Because 'pebble issues the certificate'
                $body = & curl -sS --max-time 20 --cacert $script:Pebble.IssuingRootFile --resolve "$($hostName):$($script:Tls):127.0.0.1" "https://$($hostName):$($script:Tls)/"
                $LASTEXITCODE | Should -Be 0
                $body | Should -Be 'first tunnel'
                Write-Host "self-hosting steps on loopback: first trusted HTTPS response after $([math]::Round($clock.Elapsed.TotalSeconds, 2)) s"
            }
            finally {
                $site.Stop()
            }
        }
    }
}
