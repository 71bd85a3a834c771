<#
.SYNOPSIS
    The TunnelPS demo: exposes a tiny local web site through a self-hosted tunnel.

.DESCRIPTION
    Run by `./build.ps1 Demo` in a fresh pwsh after the module is built. Starts a local
    HTTP site on 127.0.0.1 (a TcpListener on a free port), a tunnel server on
    the embedded defaults (ports 8443 and 8080, or free ones if those are taken), and an HTTP tunnel to the site; fetches the public URL once, prints the
    status and body, and stops everything.

.PARAMETER ModulePath
    The built module manifest, out/TunnelPS/TunnelPS.psd1.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ModulePath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).ProviderPath -Force

# A tiny HTTP site on 127.0.0.1 with a plain TcpListener: it needs no URL reservation (HttpListener does on
# Windows) and answers whatever Host header the tunnel forwards.
$listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
$listener.Start()
$sitePort = $listener.LocalEndpoint.Port

# The site answers on a thread job so this runspace stays free to drive the tunnel.
$site = Start-ThreadJob -ArgumentList $listener -ScriptBlock {
    param($listener)
    $body = [System.Text.Encoding]::UTF8.GetBytes('Hello from TunnelPS demo')
    $head = [System.Text.Encoding]::ASCII.GetBytes(
        "HTTP/1.1 200 OK`r`nContent-Type: text/plain; charset=utf-8`r`nContent-Length: $($body.Length)`r`nConnection: close`r`n`r`n")
    while ($true) {
        try { $client = $listener.AcceptTcpClient() } catch { break }
        try {
            $stream = $client.GetStream()
            $buffer = [byte[]]::new(8192)
            $seen = ''
            # Read the request head, then answer and close.
            while (-not $seen.Contains("`r`n`r`n")) {
                $read = $stream.Read($buffer, 0, $buffer.Length)
                if ($read -le 0) { break }
                $seen += [System.Text.Encoding]::ASCII.GetString($buffer, 0, $read)
            }
            $stream.Write($head, 0, $head.Length)
            $stream.Write($body, 0, $body.Length)
        }
        catch { }
        finally { $client.Dispose() }
    }
}

$server = $null
$tunnels = @()
try {
    Write-Host "Local site:    http://127.0.0.1:$sitePort/"

    # The embedded defaults: domain localhost, TLS port 8443, HTTP port 8080, the per-user self-signed certificate.
    # If another program holds those ports, fall back to free ones so the demo still runs.
    try {
        $server = Start-TunnelServer
    }
    catch {
        Write-Host "Default ports busy ($($_.Exception.Message)); using free ports instead."
        $server = Start-TunnelServer -Port 0 -HttpPort 0
    }
    $server | Format-Table | Out-String | Write-Host

    # One Tunnel object per public URL: http and https by default.
    $tunnels = @(Start-Tunnel -Http $sitePort)
    $tunnels | Format-Table | Out-String | Write-Host

    foreach ($tunnel in $tunnels) {
        # Browsers and curl resolve *.localhost to loopback; .NET does not on every platform,
        # so for such a host the request goes to 127.0.0.1 with the public Host header.
        $publicUri = [uri] $tunnel.PublicUrl
        $request = @{ Uri = $publicUri; SkipHttpErrorCheck = $true; SkipCertificateCheck = $true; NoProxy = $true; TimeoutSec = 30 }
        if ($publicUri.Host.EndsWith('.localhost', [StringComparison]::OrdinalIgnoreCase)) {
            $builder = [System.UriBuilder]::new($publicUri)
            $builder.Host = '127.0.0.1'
            $request.Uri = $builder.Uri
            $request.Headers = @{ Host = $publicUri.Authority }
        }
        $response = Invoke-WebRequest @request
        Write-Host "GET $($tunnel.PublicUrl) -> $($response.StatusCode) $($response.Content)"
    }
    Get-TunnelServer | Select-Object -ExpandProperty Tunnels | Format-Table Url, Protocol, ClientAddress, ConnectionCount | Out-String | Write-Host
}
finally {
    $tunnels | Stop-Tunnel
    if ($null -ne $server) { $server | Stop-TunnelServer }
    $listener.Stop()
    $site | Wait-Job -Timeout 10 | Out-Null
    $site | Remove-Job -Force
}
