# build/ConvertTo-MamlHelp.ps1 turns a PlatyPS-layout page into MAML that Get-Help reads.
# A probe cmdlet compiled here stands in for a TunnelPS cmdlet (Fixtures/Get-HelpProbe.md).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $converter = Join-Path (Get-RepositoryRoot) 'build/ConvertTo-MamlHelp.ps1'
    $probeDir = Join-Path $TestDrive 'HelpProbe'
    $null = New-Item -ItemType Directory -Path $probeDir
    & $converter -Path (Join-Path $PSScriptRoot 'Fixtures/Get-HelpProbe.md') -OutputPath (Join-Path $probeDir 'en-US/HelpProbe.dll-Help.xml')

    Add-Type -OutputAssembly (Join-Path $probeDir 'HelpProbe.dll') -TypeDefinition @'
using System.Management.Automation;

namespace HelpProbe
{
    [Cmdlet(VerbsCommon.Get, "HelpProbe", DefaultParameterSetName = "ByName")]
    public sealed class GetHelpProbeCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "ByName", ValueFromPipelineByPropertyName = true)]
        public string Name { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "ById")]
        public int Id { get; set; }

        [Parameter]
        public int Count { get; set; }

        protected override void ProcessRecord() => WriteObject(Name);
    }
}
'@
    Import-Module (Join-Path $probeDir 'HelpProbe.dll') -Force
    $help = Get-Help -Name Get-HelpProbe -Full
}

AfterAll {
    Remove-Module HelpProbe -Force -ErrorAction Ignore
}

Describe 'ConvertTo-MamlHelp' {
    It 'writes well-formed MAML' {
        { [xml](Get-Content -Raw -LiteralPath (Join-Path $probeDir 'en-US/HelpProbe.dll-Help.xml')) } | Should -Not -Throw
    }

    It 'carries the synopsis' {
        $help.Synopsis | Should -Be 'Returns a probe value for the help converter test.'
    }

    It 'carries the description paragraphs, escaped' {
        $text = @($help.Description.Text)
        $text.Count | Should -Be 2
        $text[1] | Should -Be 'A second paragraph with <angle brackets> & an ampersand.'
    }

    It 'carries the examples with code and remarks' {
        $examples = @($help.Examples.Example)
        $examples.Count | Should -Be 2
        $examples[0].Title | Should -Match 'Example 1: Probe by name'
        $examples[0].Code | Should -Be 'PS> Get-HelpProbe -Name web'
        ($examples[1].Remarks.Text -join '') | Should -Be 'Returns probe 3 twice.'
    }

    It 'describes each parameter with its metadata' {
        $name = Get-Help -Name Get-HelpProbe -Parameter Name
        ($name.Description.Text -join '') | Should -Be 'The name of the probe.'
        $name.Required | Should -Be 'true'
        $name.Position | Should -Be '0'
        $name.PipelineInput | Should -Be 'True (ByPropertyName)'
        (Get-Help -Name Get-HelpProbe -Parameter Count).DefaultValue | Should -Be '1'
    }

    It 'leaves out CommonParameters as a parameter' {
        @($help.Parameters.Parameter.Name) | Should -Be @('Name', 'Id', 'Count')
    }

    It 'writes one syntax entry per parameter set' {
        $syntax = @($help.Syntax.SyntaxItem)
        $syntax.Count | Should -Be 2
        @($syntax[0].Parameter.Name) | Should -Be @('Name', 'Count')
        @($syntax[1].Parameter.Name) | Should -Be @('Id', 'Count')
    }

    It 'marks a parameter required only in the sets whose yaml block says so (PlatyPS per-set blocks)' {
        $syntax = @($help.Syntax.SyntaxItem)
        ($syntax[0].Parameter | Where-Object Name -EQ 'Count').Required | Should -Be 'false'
        ($syntax[1].Parameter | Where-Object Name -EQ 'Count').Required | Should -Be 'true'
    }

    It 'carries inputs, outputs and notes' {
        $help.InputTypes.InputType.Type.Name | Should -Be 'System.String'
        $help.ReturnValues.ReturnValue.Type.Name | Should -Be 'System.String'
        ($help.AlertSet.Alert.Text -join '') | Should -Be 'Test fixture only.'
    }
}
