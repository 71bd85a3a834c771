# Debian's pebble (an RFC 8555 ACME test server) and pebble-challtestsrv (its DNS: every name is 127.0.0.1) for the
# ACME Pester tests, each on free loopback ports in a temporary folder. Pebble validates against the tunnel server's
# ports (-HttpPort/-TlsPort), with PEBBLE_VA_NOSLEEP=1. Its own HTTPS uses a CA made here (RootFile: the
# -AcmeRootCertificate case); the root it issues under comes from its management API (IssuingRootFile).

function Test-PebbleInstalled {
    [OutputType([bool])]
    param()
    $null -ne (Get-Command pebble -CommandType Application -ErrorAction Ignore) -and
    $null -ne (Get-Command pebble-challtestsrv -CommandType Application -ErrorAction Ignore) -and
    $null -ne (Get-Command curl -CommandType Application -ErrorAction Ignore)
}

function Get-FreeLoopbackPort {
    $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

function Start-TestPebble {
    <#
    .SYNOPSIS
        Starts challtestsrv and pebble; returns Directory (the ACME URL), RootFile (pebble's HTTPS CA, PEM),
        IssuingRootFile (the root its certificates chain to, PEM), Folder and Processes. Stop it with Stop-TestPebble.
    #>
    param([Parameter(Mandatory)][int] $HttpPort, [Parameter(Mandatory)][int] $TlsPort)
    $folder = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) ('tunnelps-pebble-' + [guid]::NewGuid().ToString('n')))).FullName

    # A CA and a certificate for 127.0.0.1 signed by it, for pebble's own HTTPS.
    $now = [DateTimeOffset]::UtcNow
    $caKey = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    $caRequest = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=TunnelPS Pester CA for pebble', $caKey, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
    $caRequest.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
    $caRequest.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509SubjectKeyIdentifierExtension]::new($caRequest.PublicKey, $false))
    $ca = $caRequest.CreateSelfSigned($now.AddDays(-1), $now.AddDays(30))
    $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=localhost', $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
    $names = [System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
    $names.AddDnsName('localhost')
    $names.AddIpAddress([System.Net.IPAddress]::Loopback)
    $request.CertificateExtensions.Add($names.Build())
    $request.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509AuthorityKeyIdentifierExtension]::CreateFromCertificate($ca, $true, $false))
    $leaf = $request.Create($ca, $now.AddDays(-1), $now.AddDays(29), [byte[]](1, 2, 3, 4, 5, 6, 7, 8))
    Set-Content -LiteralPath (Join-Path $folder 'cert.pem') -Value $leaf.ExportCertificatePem()
    Set-Content -LiteralPath (Join-Path $folder 'key.pem') -Value $key.ExportPkcs8PrivateKeyPem()
    $rootFile = Join-Path $folder 'pebble-https-root.pem'
    Set-Content -LiteralPath $rootFile -Value $ca.ExportCertificatePem()

    $dnsPort = Get-FreeLoopbackPort
    $challengeManagement = Get-FreeLoopbackPort
    $acmePort = Get-FreeLoopbackPort
    $managementPort = Get-FreeLoopbackPort
    $config = @{ pebble = @{
            listenAddress = "127.0.0.1:$acmePort"; managementListenAddress = "127.0.0.1:$managementPort"
            certificate = (Join-Path $folder 'cert.pem'); privateKey = (Join-Path $folder 'key.pem')
            httpPort = $HttpPort; tlsPort = $TlsPort; ocspResponderURL = ''; externalAccountBindingRequired = $false
        } } | ConvertTo-Json -Depth 4
    Set-Content -LiteralPath (Join-Path $folder 'pebble.json') -Value $config

    $processes = @()
    $start = {
        param($exe, $arguments, $environment)
        $info = [System.Diagnostics.ProcessStartInfo]::new((Get-Command $exe -CommandType Application | Select-Object -First 1).Source)
        foreach ($a in $arguments) { $info.ArgumentList.Add($a) }
        foreach ($k in $environment.Keys) { $info.Environment[$k] = $environment[$k] }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($info)
        $null = $p.StandardOutput.ReadToEndAsync()
        $null = $p.StandardError.ReadToEndAsync()
        $p
    }
    $processes += & $start 'pebble-challtestsrv' @('-dns01', "127.0.0.1:$dnsPort", '-management', "127.0.0.1:$challengeManagement", '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '') @{}
    $processes += & $start 'pebble' @('-config', (Join-Path $folder 'pebble.json'), '-dnsserver', "127.0.0.1:$dnsPort") @{ PEBBLE_VA_NOSLEEP = '1'; PEBBLE_WFE_NONCEREJECT = '0' }

    $directory = "https://127.0.0.1:$acmePort/dir"
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    $issuing = Join-Path $folder 'pebble-issuing-root.pem'
    while ($true) {
        & curl -sS --max-time 5 --cacert $rootFile -o $issuing "https://127.0.0.1:$managementPort/roots/0" 2>$null
        if ($LASTEXITCODE -eq 0 -and (Test-Path $issuing) -and (Get-Content -Raw $issuing) -match 'BEGIN CERTIFICATE') { break }
        if ([DateTime]::UtcNow -gt $deadline) { throw 'pebble did not start within 30 s' }
        Start-Sleep -Milliseconds 100
    }
    [pscustomobject]@{ Directory = $directory; ChallengeManagementPort = $challengeManagement; RootFile = $rootFile; IssuingRootFile = $issuing; Folder = $folder; Processes = $processes }
}

function Stop-TestPebble {
    param($Pebble)
    if ($null -eq $Pebble) { return }
    foreach ($p in $Pebble.Processes) {
        if (-not $p.HasExited) { $p.Kill($true); $null = $p.WaitForExit(10000) }
        $p.Dispose()
    }
    Remove-Item -LiteralPath $Pebble.Folder -Recurse -Force -ErrorAction Ignore
}

Export-ModuleMember -Function Test-PebbleInstalled, Start-TestPebble, Stop-TestPebble
