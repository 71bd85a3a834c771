#
# Module manifest template for TunnelPS. build.ps1 replaces {{ModuleVersion}} with the
# <Version> of Directory.Build.props (the one version number) and writes the result to
# out/TunnelPS/TunnelPS.psd1. Edit this file, never the copy in out/.
#
@{
    RootModule           = 'TunnelPS.dll'
    ModuleVersion        = '{{ModuleVersion}}'
    GUID                 = '944bd2d0-b6bc-4e0f-8839-6ed6a5cabe35'
    Author               = 'TunnelPS contributors'
    CompanyName          = 'TunnelPS contributors'
    Copyright            = '(c) TunnelPS contributors'
    Description          = 'TunnelPS exposes local services on a public endpoint through a tunnel (an ngrok-like reverse proxy), self-hosts the tunnel server, and captures every HTTP exchange for inspection and replay. Requires PowerShell 7.4 or later on Windows, Linux or macOS (x64, arm64).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('TunnelPS.format.ps1xml')
    CmdletsToExport      = @(
        'Start-TunnelServer'
        'Stop-TunnelServer'
        'Get-TunnelServer'
        'Start-Tunnel'
        'Stop-Tunnel'
        'Get-Tunnel'
        'Get-TunnelRequest'
        'Invoke-TunnelReplay'
        'Wait-TunnelRequest'
        'Clear-TunnelRequest'
        'Export-TunnelRequest'
        'Import-TunnelRequest'
        'Get-TunnelConfig'
        'Set-TunnelAuthToken'
        'Export-TunnelCertificate'
        'Show-TunnelStatus'
        'Test-TunnelConnectivity'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Tunnel', 'ngrok', 'ReverseProxy', 'Networking', 'HTTP', 'Linux', 'Windows', 'MacOS', 'PSEdition_Core')
            ReleaseNotes = 'First preview: self-hosted tunnel server and client, HTTP capture, inspection and replay.'
        }
    }
}
