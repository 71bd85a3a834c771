<#
.SYNOPSIS
    The TunnelPS demo: exposes a tiny local web site through a self-hosted tunnel.

.DESCRIPTION
    Run by `./build.ps1 Demo` in a fresh pwsh after the module is built. Starts a local
    HTTP site on 127.0.0.1 (System.Net.HttpListener on a free port), a tunnel server on
    free ports, and an HTTP tunnel to the site; fetches the public URL once, prints the
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

function Get-FreeTcpPort {
    $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

$sitePort = Get-FreeTcpPort
$listener = [System.Net.HttpListener]::new()
# The tunnel forwards the public Host header (<name>.localhost:<port>), and HttpListener
# answers 404 to a Host its prefixes do not name: listen for any host on the site's port.
$listener.Prefixes.Add("http://*:$sitePort/")
$listener.Start()

# The site answers on a thread job so this runspace stays free to drive the tunnel.
$site = Start-ThreadJob -ArgumentList $listener -ScriptBlock {
    param($listener)
    $body = [System.Text.Encoding]::UTF8.GetBytes('Hello from TunnelPS demo')
    while ($listener.IsListening) {
        try { $context = $listener.GetContext() } catch { break }
        $context.Response.StatusCode = 200
        $context.Response.ContentType = 'text/plain; charset=utf-8'
        $context.Response.ContentLength64 = $body.Length
        $context.Response.OutputStream.Write($body, 0, $body.Length)
        $context.Response.Close()
    }
}

$server = $null
$tunnels = @()
try {
    Write-Host "Local site:    http://127.0.0.1:$sitePort/"

    $server = Start-TunnelServer -Port 0 -HttpPort 0
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
    $listener.Close()
    $site | Wait-Job -Timeout 10 | Out-Null
    $site | Remove-Job -Force
}
