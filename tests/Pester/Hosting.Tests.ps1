# The engine bridge (src/TunnelPS/Hosting): TunnelPS.Engine and its dependencies load from
# Dependencies/ into the private "TunnelPS.Engine" load context; the default context's
# resolver answers only for TunnelPS.Engine, and only while the module is imported.
# Each check runs in a fresh pwsh, so what is already loaded cannot hide a failure.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $hasCmdlets = @(Get-Command -Module TunnelPS).Count -gt 0
    Remove-Module TunnelPS -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $manifestPath = Get-TunnelPSManifestPath

    function Invoke-ModuleProbe {
        # Runs $Body after importing the module in a fresh pwsh; $Body's last output is
        # turned into JSON and parsed back.
        param([string] $Body)
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module -Name '$manifestPath'
`$result = & { $Body }
'PROBE-RESULT ' + (`$result | ConvertTo-Json -Depth 5 -Compress)
"@
        $run = Invoke-FreshPwsh -Script $script
        $line = $run.Output | Where-Object { $_.StartsWith('PROBE-RESULT ') } | Select-Object -Last 1
        if ($run.ExitCode -ne 0 -or -not $line) {
            throw "Probe failed (exit code $($run.ExitCode)):`n$($run.Output -join "`n")"
        }
        $line.Substring('PROBE-RESULT '.Length) | ConvertFrom-Json
    }
}

Describe 'Engine load context' {
    BeforeAll {
        $probe = Invoke-ModuleProbe -Body {
            $engine = [System.Reflection.Assembly]::Load([System.Reflection.AssemblyName]::new('TunnelPS.Engine'))
            $engineContext = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($engine)
            $yaml = $engineContext.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('YamlDotNet'))
            $logging = $engineContext.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('Microsoft.Extensions.Logging.Abstractions'))
            $defaultYaml = try { [System.Reflection.Assembly]::Load([System.Reflection.AssemblyName]::new('YamlDotNet')).Location } catch { $null }
            $spectre = $engineContext.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('Spectre.Console'))
            $defaultSpectre = try { [System.Reflection.Assembly]::Load([System.Reflection.AssemblyName]::new('Spectre.Console')).Location } catch { $null }
            $module = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext([TunnelPS.Hosting.ModuleInitializer].Assembly)
            @{
                EngineContext    = $engineContext.Name
                EngineIsDefault  = [object]::ReferenceEquals($engineContext, [System.Runtime.Loader.AssemblyLoadContext]::Default)
                EngineLocation   = $engine.Location
                YamlContext      = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($yaml).Name
                YamlLocation     = $yaml.Location
                LoggingContext   = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($logging).Name
                DefaultYaml      = $defaultYaml
                SpectreContext   = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($spectre).Name
                SpectreLocation  = $spectre.Location
                DefaultSpectre   = $defaultSpectre
                ModuleContext    = $module.Name
                EngineCopies     = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'TunnelPS.Engine' }).Count
            }
        }
    }

    It 'loads TunnelPS.dll in the default context' {
        $probe.ModuleContext | Should -Be 'Default'
    }

    It 'resolves TunnelPS.Engine from Dependencies/ into the TunnelPS.Engine context' {
        $probe.EngineIsDefault | Should -BeFalse
        $probe.EngineContext | Should -Be 'TunnelPS.Engine'
        $probe.EngineLocation | Should -BeLike '*Dependencies*TunnelPS.Engine.dll'
        $probe.EngineCopies | Should -Be 1
    }

    It 'loads the engine''s dependencies in the engine''s context' {
        $probe.YamlContext | Should -Be 'TunnelPS.Engine'
        $probe.YamlLocation | Should -BeLike '*Dependencies*YamlDotNet.dll'
        $probe.LoggingContext | Should -Be 'TunnelPS.Engine'
        $probe.SpectreContext | Should -Be 'TunnelPS.Engine'
        $probe.SpectreLocation | Should -BeLike '*Dependencies*Spectre.Console.dll'
    }

    It 'answers only for TunnelPS.Engine in the default context' {
        $probe.DefaultYaml | Should -BeNullOrEmpty
        $probe.DefaultSpectre | Should -BeNullOrEmpty
    }

    It 'stops answering once the module is removed' {
        $probe = Invoke-ModuleProbe -Body {
            Remove-Module TunnelPS
            try { [System.Reflection.Assembly]::Load([System.Reflection.AssemblyName]::new('TunnelPS.Engine')).Location } catch { 'not resolved' }
        }
        $probe | Should -Be 'not resolved'
    }
}

Describe 'ErrorMapper' {
    BeforeAll {
        $categories = Invoke-ModuleProbe -Body {
            $engine = [System.Reflection.Assembly]::Load([System.Reflection.AssemblyName]::new('TunnelPS.Engine'))
            # An engine exception of each kind; compiled against the engine in its own context.
            Add-Type -IgnoreWarnings -ReferencedAssemblies $engine.Location -TypeDefinition @'
public sealed class KindProbeException : TunnelPS.Engine.TunnelException
{
    private readonly TunnelPS.Engine.TunnelErrorKind _kind;
    public KindProbeException(TunnelPS.Engine.TunnelErrorKind kind) : base(kind.ToString()) { _kind = kind; }
    public override TunnelPS.Engine.TunnelErrorKind Kind => _kind;
}
'@
            $mapper = [TunnelPS.Hosting.ModuleInitializer].Assembly.GetType('TunnelPS.Errors.ErrorMapper', $true)
            $toRecord = $mapper.GetMethod('ToErrorRecord', [System.Reflection.BindingFlags]'Static, NonPublic')
            $map = [ordered]@{}
            foreach ($kind in [enum]::GetNames($engine.GetType('TunnelPS.Engine.TunnelErrorKind', $true))) {
                $exception = [KindProbeException]::new($kind)
                $map[$kind] = $toRecord.Invoke($null, @($exception, 'Probe', 'target')).CategoryInfo.Category.ToString()
            }
            $protocol = [Activator]::CreateInstance($engine.GetType('TunnelPS.Engine.Protocol.ProtocolException', $true), @('bad frame'))
            $others = [ordered]@{
                ProtocolException       = $protocol
                OperationCanceled       = [System.OperationCanceledException]::new()
                Socket                  = [System.Net.Sockets.SocketException]::new(111)
                IOOverSocket            = [System.IO.IOException]::new('reset', [System.Net.Sockets.SocketException]::new(104))
                IO                      = [System.IO.IOException]::new('read')
                TlsAuthentication       = [System.Security.Authentication.AuthenticationException]::new('tls')
                AggregateOfTimeout      = [System.AggregateException]::new([System.TimeoutException]::new())
                Other                   = [System.InvalidOperationException]::new()
            }
            foreach ($entry in $others.GetEnumerator()) {
                $map[$entry.Key] = $toRecord.Invoke($null, @($entry.Value, 'Probe', 'target')).CategoryInfo.Category.ToString()
            }
            $record = $toRecord.Invoke($null, @([System.AggregateException]::new($protocol), 'TunnelStartFailed', 'the-target'))
            $map['KindNames'] = @([enum]::GetNames($engine.GetType('TunnelPS.Engine.TunnelErrorKind', $true)))
            $map['RecordId'] = $record.FullyQualifiedErrorId
            $map['RecordTarget'] = $record.TargetObject
            $map['RecordException'] = $record.Exception.GetType().FullName
            $map
        }
    }

    It 'maps TunnelErrorKind.<Kind> to <Category>' -ForEach @(
        @{ Kind = 'Protocol'; Category = 'ProtocolError' }
        @{ Kind = 'Connection'; Category = 'ConnectionError' }
        @{ Kind = 'Authentication'; Category = 'AuthenticationError' }
        @{ Kind = 'ProxyAuthentication'; Category = 'AuthenticationError' }
        @{ Kind = 'Timeout'; Category = 'OperationTimeout' }
        @{ Kind = 'NotFound'; Category = 'ObjectNotFound' }
        @{ Kind = 'Conflict'; Category = 'ResourceExists' }
        @{ Kind = 'InvalidConfiguration'; Category = 'InvalidData' }
        @{ Kind = 'LimitReached'; Category = 'LimitsExceeded' }
    ) {
        $categories.$Kind | Should -Be $Category
    }

    It 'maps every TunnelErrorKind the engine has to a specific category' {
        # Catches a kind added to the engine without a row in the table.
        @($categories.KindNames).Count | Should -BeGreaterOrEqual 9
        @($categories.KindNames | Where-Object { $categories.$_ -eq 'NotSpecified' }) | Should -BeNullOrEmpty
    }

    It 'maps <Exception> to <Category>' -ForEach @(
        @{ Exception = 'ProtocolException'; Category = 'ProtocolError' }
        @{ Exception = 'OperationCanceled'; Category = 'OperationStopped' }
        @{ Exception = 'Socket'; Category = 'ConnectionError' }
        @{ Exception = 'IOOverSocket'; Category = 'ConnectionError' }
        @{ Exception = 'IO'; Category = 'ReadError' }
        @{ Exception = 'TlsAuthentication'; Category = 'SecurityError' }
        @{ Exception = 'AggregateOfTimeout'; Category = 'OperationTimeout' }
        @{ Exception = 'Other'; Category = 'NotSpecified' }
    ) {
        $categories.$Exception | Should -Be $Category
    }

    It 'builds the ErrorRecord with the given id and target, unwrapping the aggregate' {
        $categories.RecordId | Should -Be 'TunnelStartFailed'
        $categories.RecordTarget | Should -Be 'the-target'
        $categories.RecordException | Should -Be 'TunnelPS.Engine.Protocol.ProtocolException'
    }
}

Describe 'Engine loads when a cmdlet runs' {
    It 'has TunnelPS.Engine in a non-default load context after Get-Tunnel' -ForEach @(@{ HasCmdlets = $hasCmdlets }) {
        if (-not $HasCmdlets) {
            Set-ItResult -Skipped -Because 'TunnelPS exports no cmdlets yet (Get-Command -Module TunnelPS is empty); this runs once Get-Tunnel exists'
        }
        $probe = Invoke-ModuleProbe -Body {
            $null = Get-Tunnel
            $engine = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'TunnelPS.Engine' })
            $contexts = @([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object { $_.Assemblies.GetName().Name -contains 'TunnelPS.Engine' })
            @{
                Copies   = $engine.Count
                Contexts = @($contexts | ForEach-Object Name)
            }
        }
        $probe.Copies | Should -Be 1 -Because 'Get-Tunnel is expected to reach the engine (its registry of running clients)'
        $probe.Contexts | Should -Be @('TunnelPS.Engine')
    }
}
