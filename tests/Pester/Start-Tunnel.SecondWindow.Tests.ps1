# A second window of the same user: a server started in this PowerShell, and Start-Tunnel in another pwsh process of
# the same user pointed at it by address alone, with neither -ServerCertificateThumbprint nor -SkipCertificateCheck.
# The local CA that issued the server's certificate lives in the user's ~/.tunnelps (here the test runner's home).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Manifest = Get-TunnelPSManifestPath
    $script:Helpers = Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1'
}

Describe 'Start-Tunnel from a second window of the same user' {
    BeforeAll {
        $script:Server = Start-TunnelServer -Port 0 -HttpPort 0 -WarningAction Ignore
        $script:Site = Start-TestHttpSite -Body 'hello from the second window'
    }

    AfterAll {
        Get-TunnelServer | Stop-TunnelServer
        $script:Site.Stop()
    }

    It 'trusts the server its own local CA vouches for, by address alone' {
        $run = Invoke-FreshPwsh -Timeout 120 -Script @"
`$ErrorActionPreference = 'Stop'
Import-Module '$script:Manifest'
Import-Module '$script:Helpers'
`$tunnel = Start-Tunnel -Http $($script:Site.Port) -ServerAddress localhost:$($script:Server.Port) | Select-Object -First 1
(Invoke-TestRequest `$tunnel.PublicUrl).Body
`$tunnel | Stop-Tunnel
"@
        $text = ($run.Output -join "`n") -replace '\x1b\[[0-9;?]*[ -/]*[@-~]', ''
        $run.ExitCode | Should -Be 0 -Because $text
        $text | Should -Match 'hello from the second window'
    }

    It 'says what to do when the server is not one of this user''s (another user''s local CA)' {
        $other = Join-Path ([System.IO.Path]::GetTempPath()) ('tunnelps-other-home-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory -Path $other
        try {
            # Another user: a home of its own, so its ~/.tunnelps has its own CA (or none).
            $run = Invoke-FreshPwsh -Timeout 120 -Script @"
`$env:HOME = '$other'
`$env:USERPROFILE = '$other'
Import-Module '$script:Manifest'
try { Start-Tunnel -Http $($script:Site.Port) -ServerAddress localhost:$($script:Server.Port) -ErrorAction Stop }
catch { "ERROR: `$(`$_.Exception.Message)"; "ID: `$(`$_.FullyQualifiedErrorId)" }
"@
            $text = ($run.Output -join "`n") -replace '\x1b\[[0-9;?]*[ -/]*[@-~]', ''
            $text | Should -Match 'ERROR: .*is not trusted'
            $text | Should -Match ([regex]::Escape("-ServerCertificateThumbprint $($script:Server.CertificateThumbprint)"))
            $text | Should -Match 'Export-TunnelCertificate'
        }
        finally {
            Remove-Item -LiteralPath $other -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
