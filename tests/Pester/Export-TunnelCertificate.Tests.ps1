# Export-TunnelCertificate: the local CA (PEM, DER), -WhatIf, errors; then the proof that it works: curl --cacert and
# curl --pinnedpubkey against a real https tunnel of a server on its default certificates.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer

    function Read-Certificate([string] $Path) {
        [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes($Path))
    }
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
}

Describe 'Export-TunnelCertificate' {
    BeforeAll {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
    }

    AfterAll {
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'writes the local CA of the piped server as PEM: a CA certificate, without a private key' {
        $path = Join-Path $TestDrive 'ca.pem'

        $file = $server | Export-TunnelCertificate -Path $path -PassThru

        $file | Should -BeOfType ([System.IO.FileInfo])
        $file.FullName | Should -Be $path
        $text = Get-Content -Raw -LiteralPath $path
        $text | Should -Match '^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$'
        $text | Should -Not -Match 'PRIVATE KEY'
        $ca = Read-Certificate $path
        $ca.Subject | Should -BeLike 'CN=TunnelPS local CA for localhost (*), O=TunnelPS'
        $ca.HasPrivateKey | Should -BeFalse
        ($ca.Extensions | Where-Object { $_ -is [System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension] }).CertificateAuthority | Should -BeTrue
    }

    It 'the exported CA vouches for the server''s own certificate' {
        $path = Join-Path $TestDrive 'chain.pem'
        $server | Export-TunnelCertificate -Path $path
        $chain = [System.Security.Cryptography.X509Certificates.X509Chain]::new()
        $chain.ChainPolicy.TrustMode = 'CustomRootTrust'
        $null = $chain.ChainPolicy.CustomTrustStore.Add((Read-Certificate $path))
        $chain.ChainPolicy.RevocationMode = 'NoCheck'

        # The certificate the server shows for its own name, fetched over TLS.
        $tcp = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $server.Port)
        try {
            $ssl = [System.Net.Security.SslStream]::new($tcp.GetStream(), $false, [TunnelPS.Tests.TestTls]::AcceptAnyCertificate)
            $ssl.AuthenticateAsClient('localhost')
            $shown = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($ssl.RemoteCertificate)
        }
        finally { $tcp.Dispose() }

        [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($shown.RawData)) | Should -Be $server.CertificateThumbprint
        $chain.Build($shown) | Should -BeTrue
    }

    It 'writes the CA of -Domain, localhost by default: the same one the server of that domain uses' {
        $fromServer = Join-Path $TestDrive 'server.pem'
        $fromDomain = Join-Path $TestDrive 'domain.pem'
        $server | Export-TunnelCertificate -Path $fromServer

        Export-TunnelCertificate -Path $fromDomain

        Get-Content -Raw $fromDomain | Should -Be (Get-Content -Raw $fromServer)
        Export-TunnelCertificate -Path $fromDomain -Domain 'LOCALHOST.'
        Get-Content -Raw $fromDomain | Should -Be (Get-Content -Raw $fromServer)
    }

    It 'writes DER with -Format Der, and by default for a .der or .cer path' {
        $pem = Join-Path $TestDrive 'ca.pem'
        $der = Join-Path $TestDrive 'ca.bin'
        $cer = Join-Path $TestDrive 'ca.cer'
        $server | Export-TunnelCertificate -Path $pem

        $server | Export-TunnelCertificate -Path $der -Format Der
        Export-TunnelCertificate -Path $cer

        $expected = (Read-Certificate $pem).RawData
        [System.IO.File]::ReadAllBytes($der) | Should -Be $expected
        [System.IO.File]::ReadAllBytes($cer) | Should -Be $expected
    }

    It 'writes the certificate a server was given when it has no local CA, and several into one PEM file' {
        $key = [System.Security.Cryptography.ECDsa]::Create()
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=given.test', $key, 'SHA256')
        $ephemeral = $request.CreateSelfSigned([DateTimeOffset]::Now.AddDays(-1), [DateTimeOffset]::Now.AddDays(30))
        $given = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($ephemeral.Export('Pfx'), [string]$null, 'Exportable')
        $other = Start-TunnelServer -Port 0 -HttpPort -1 -Certificate $given -Domain given.test
        try {
            $path = Join-Path $TestDrive 'given.pem'
            $other | Export-TunnelCertificate -Path $path
            (Read-Certificate $path).RawData | Should -Be $given.RawData

            $bundle = Join-Path $TestDrive 'bundle.pem'
            $server, $other, $server | Export-TunnelCertificate -Path $bundle
            ([regex]::Matches((Get-Content -Raw $bundle), 'BEGIN CERTIFICATE')).Count | Should -Be 2

            $err = { $server, $other | Export-TunnelCertificate -Path (Join-Path $TestDrive 'two.der') } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.ExportTunnelCertificateCommand' -PassThru
            $err.Exception.Message | Should -Be ('A DER file holds one certificate, and the servers given trust 2 different ones. ' +
                'Export them to a PEM file (-Format Pem), which holds several, or one server at a time.')
        }
        finally { $other | Stop-TunnelServer }
    }

    It 'writes nothing with -WhatIf, and creates no CA for a new domain' {
        $path = Join-Path $TestDrive 'whatif.pem'
        $domain = "whatif-$([guid]::NewGuid().ToString('n').Substring(0, 8)).test"

        $server | Export-TunnelCertificate -Path $path -WhatIf
        Export-TunnelCertificate -Path $path -Domain $domain -WhatIf

        Test-Path -LiteralPath $path | Should -BeFalse
        # The module's ~/.tunnelps: the user profile .NET sees (the test runner points it at a home of its own).
        $profileHome = [Environment]::GetFolderPath([Environment+SpecialFolder]::UserProfile)
        Test-Path -LiteralPath (Join-Path $profileHome ".tunnelps/ca-$domain.pfx") | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $profileHome '.tunnelps') | Should -BeTrue -Because 'the server of this file made its CA there'
    }

    It 'fails with CertificateExportFailed, a WriteError naming the missing folder' {
        $folder = Join-Path $TestDrive 'no-such-folder'
        $path = Join-Path $folder 'ca.pem'

        $err = { Export-TunnelCertificate -Path $path } |
            Should -Throw -ErrorId 'CertificateExportFailed,TunnelPS.Commands.ExportTunnelCertificateCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'WriteError'
        $err.TargetObject | Should -Be $path
        $err.Exception.Message | Should -Be "Cannot write the certificate to '$path': the folder '$folder' does not exist. Create it first, or give a -Path in an existing folder."
    }

    It 'refuses a -Domain that is not a domain name with InvalidArgument' {
        $err = { Export-TunnelCertificate -Path (Join-Path $TestDrive 'x.pem') -Domain 'not a domain' } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.ExportTunnelCertificateCommand' -PassThru

        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Be "-Domain 'not a domain' is not a domain name. Give the -Domain of Start-TunnelServer, such as localhost or tunnel.example.com."
    }
}

Describe 'curl trusts an https tunnel through the exported CA or the SPKI pin' -ForEach @(@{ HasCurl = [bool](Get-Command curl -CommandType Application -ErrorAction SilentlyContinue) }) {
    BeforeAll {
        if (-not $HasCurl) { return }
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'trusted through the CA'
        $tunnel = Start-Tunnel -Http $site.Port -Scheme https -Subdomain 'api'
        $caPath = Join-Path $TestDrive 'tunnelps-ca.pem'
        Export-TunnelCertificate -Path $caPath
        $url = "https://api.localhost:$($server.Port)/"
        # *.localhost is loopback (RFC 6761); --resolve makes sure of it whatever curl's version.
        $resolve = "api.localhost:$($server.Port):127.0.0.1"

        function Invoke-Curl([string[]] $Arguments) {
            $output = & curl --silent --show-error --max-time 20 --resolve $resolve @Arguments 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | ForEach-Object { "$_" }) -join "`n" }
        }
    }

    AfterAll {
        if (-not $HasCurl) { return }
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
        $site.Stop()
    }

    BeforeEach {
        if (-not $HasCurl) { Set-ItResult -Skipped -Because 'curl is not installed (.ci/run installs it)' }
    }

    It 'curl --cacert with the exported CA fetches https://api.localhost:PORT/, without --insecure' {
        $tunnel.PublicUrl | Should -Be $url.TrimEnd('/')

        $result = Invoke-Curl '--cacert', $caPath, $url

        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Be 'trusted through the CA'
    }

    It 'curl without the CA refuses the certificate (exit 60): the trust comes from the exported CA' {
        $result = Invoke-Curl $url

        $result.ExitCode | Should -Be 60 -Because $result.Output
    }

    It 'curl --pinnedpubkey with the SpkiPin succeeds for the tunnel host and for the server''s own name, and a wrong pin fails (exit 90)' {
        $result = Invoke-Curl '--insecure', '--pinnedpubkey', $server.SpkiPin, $url
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Be 'trusted through the CA'

        $own = & curl --silent --show-error --max-time 20 --insecure --pinnedpubkey $server.SpkiPin --output /dev/null --write-out '%{http_code}' "https://localhost:$($server.Port)/" 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "$own"

        $wrong = 'sha256//' + [Convert]::ToBase64String([byte[]]::new(32))
        (Invoke-Curl '--insecure', '--pinnedpubkey', $wrong, $url).ExitCode | Should -Be 90
    }

    It 'curl --cacert and --pinnedpubkey together succeed' {
        $result = Invoke-Curl '--cacert', $caPath, '--pinnedpubkey', $server.SpkiPin, $url

        $result.ExitCode | Should -Be 0 -Because $result.Output
    }
}
