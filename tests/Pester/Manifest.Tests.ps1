# The built manifest (out/TunnelPS/TunnelPS.psd1) and module layout.
#
# The manifest lists the full designed command surface, while the cmdlets land one by one.
# So these tests check the manifest on its own terms (valid, explicit lists, versions) and
# compare it with the module only in the direction that holds at every stage: every
# cmdlet TunnelPS.dll implements is exported, and every exported name that exists shows
# up in Get-Command. The Docs task and Help.Tests.ps1 cover the rest as commands appear.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $manifestPath = Get-TunnelPSManifestPath
    $data = Import-PowerShellDataFile -LiteralPath $manifestPath
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path (Get-RepositoryRoot) 'Directory.Build.props'))
    $expectedVersion = $props.SelectSingleNode('/Project/PropertyGroup/Version').InnerText.Trim()
    $designedCmdlets = @(
        'Start-TunnelServer', 'Stop-TunnelServer', 'Get-TunnelServer', 'Start-Tunnel', 'Stop-Tunnel', 'Get-Tunnel',
        'Get-TunnelRequest', 'Invoke-TunnelReplay', 'Wait-TunnelRequest', 'Clear-TunnelRequest',
        'Export-TunnelRequest', 'Import-TunnelRequest', 'Get-TunnelConfig', 'Set-TunnelAuthToken', 'Export-TunnelCertificate', 'Show-TunnelStatus',
        'Test-TunnelConnectivity'
    )
}

Describe 'TunnelPS manifest' {
    It 'is a valid module manifest' {
        $manifest = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
        $manifest.Name | Should -Be 'TunnelPS'
    }

    It 'carries the one version number, from Directory.Build.props' {
        $data.ModuleVersion | Should -Be $expectedVersion
    }

    It 'has TunnelPS.dll as its root module' {
        $data.RootModule | Should -Be 'TunnelPS.dll'
    }

    It 'requires PowerShell 7.4 (Core)' {
        $data.PowerShellVersion | Should -Be '7.4'
        $data.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'lists <_> explicitly, without wildcards' -ForEach 'CmdletsToExport', 'FunctionsToExport', 'AliasesToExport', 'VariablesToExport' {
        $data.ContainsKey($_) | Should -BeTrue
        @($data[$_]) -join ',' | Should -Not -Match '[*?]'
    }

    It 'exports no functions, aliases or variables' {
        @($data.FunctionsToExport).Count | Should -Be 0
        @($data.AliasesToExport).Count | Should -Be 0
        @($data.VariablesToExport).Count | Should -Be 0
    }

    It 'exports exactly the designed cmdlets' {
        @($data.CmdletsToExport | Sort-Object) | Should -Be @($designedCmdlets | Sort-Object)
    }

    It 'processes the format file' {
        $data.FormatsToProcess | Should -Be @('TunnelPS.format.ps1xml')
    }

    It 'tags the gallery entry, including PSEdition_Core' {
        $data.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Core'
        $data.PrivateData.PSData.Tags | Should -Contain 'Tunnel'
        $data.PrivateData.PSData.ReleaseNotes | Should -Not -BeNullOrEmpty
    }

    It 'has no placeholder text' {
        Get-Content -Raw -LiteralPath $manifestPath | Should -Not -Match '\{\{|TODO|example\.com'
    }
}

Describe 'TunnelPS module layout' {
    BeforeAll {
        $moduleRoot = Split-Path -Parent $manifestPath
        $files = @(Get-ChildItem -LiteralPath $moduleRoot -Recurse -File |
                ForEach-Object { [System.IO.Path]::GetRelativePath($moduleRoot, $_.FullName).Replace('\', '/') })
    }

    It 'ships only the allow-listed files' {
        $allowed = @(
            'TunnelPS.dll', 'TunnelPS.pdb', 'TunnelPS.psd1', 'TunnelPS.format.ps1xml',
            'en-US/about_TunnelPS.help.txt', 'en-US/TunnelPS.dll-Help.xml',
            'Dependencies/TunnelPS.Engine.dll', 'Dependencies/TunnelPS.Engine.pdb',
            'Dependencies/Microsoft.Extensions.Logging.Abstractions.dll',
            'Dependencies/Microsoft.Extensions.DependencyInjection.Abstractions.dll',
            'Dependencies/YamlDotNet.dll',
            'Dependencies/System.IO.Pipelines.dll',
            'Dependencies/Spectre.Console.dll',
            'Dependencies/Spectre.Console.Ansi.dll',
            'Dependencies/StackExchange.Redis.dll',
            'Dependencies/Pipelines.Sockets.Unofficial.dll'
        )
        @($files | Where-Object { $_ -notin $allowed }) | Should -BeNullOrEmpty
    }

    It 'keeps the engine and its dependencies in Dependencies/, not beside TunnelPS.dll' {
        $files | Should -Contain 'Dependencies/TunnelPS.Engine.dll'
        $files | Should -Contain 'Dependencies/YamlDotNet.dll'
        $files | Should -Contain 'Dependencies/Microsoft.Extensions.Logging.Abstractions.dll'
        @($files | Where-Object { $_ -notmatch '/' -and $_ -like '*.dll' }) | Should -Be @('TunnelPS.dll')
    }
}

Describe 'TunnelPS exports after import' {
    BeforeAll {
        $module = Import-TunnelPSModule
        $exported = @(Get-Command -Module TunnelPS | ForEach-Object Name)
        # Cmdlets implemented in TunnelPS.dll, whether or not the manifest exports them.
        $implemented = @($module.ImplementingAssembly.GetExportedTypes() |
                ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
                ForEach-Object { "$($_.VerbName)-$($_.NounName)" })
    }
    AfterAll {
        Remove-Module TunnelPS -Force -ErrorAction Ignore
    }

    It 'imports with the version of Directory.Build.props' {
        $module.Version | Should -Be ([version]$expectedVersion)
    }

    It 'exports every cmdlet TunnelPS.dll implements' {
        @($implemented | Where-Object { $_ -notin $data.CmdletsToExport }) | Should -BeNullOrEmpty
    }

    It 'shows only manifest-listed commands, and every listed cmdlet that is implemented' {
        @($exported | Where-Object { $_ -notin $data.CmdletsToExport }) | Should -BeNullOrEmpty
        @($implemented | Where-Object { $_ -notin $exported }) | Should -BeNullOrEmpty
    }
}
