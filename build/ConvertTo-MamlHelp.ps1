<#
.SYNOPSIS
    Converts PlatyPS-layout cmdlet pages (docs/*.md) into one MAML help file.

.DESCRIPTION
    Binary cmdlets cannot carry comment-based help; PowerShell reads their help from
    <Assembly>.dll-Help.xml in the module's culture folder. PlatyPS is not available to
    this build, so this script reads the same markdown layout PlatyPS writes:

        # Verb-Noun
        ## SYNOPSIS
        ## SYNTAX            (### SetName [(Default)] followed by a code fence)
        ## DESCRIPTION
        ## EXAMPLES          (### Example N: title, code fences, then remarks)
        ## PARAMETERS        (### -Name, description, then a ```yaml block with
                              Type, Parameter Sets, Aliases, Required, Position,
                              Default value, Accept pipeline input, Accept wildcard characters)
        ## INPUTS / ## OUTPUTS   (### Type name, then a description)
        ## NOTES
        ## RELATED LINKS     ([text](uri) lines)

    A "### CommonParameters" entry is skipped. Text paragraphs are separated by blank lines.

.PARAMETER Path
    The markdown files to convert, one cmdlet per file.

.PARAMETER OutputPath
    The MAML file to write, e.g. out/TunnelPS/en-US/TunnelPS.dll-Help.xml.

.EXAMPLE
    ./build/ConvertTo-MamlHelp.ps1 -Path (Get-ChildItem docs/*-*.md) -OutputPath out/TunnelPS/en-US/TunnelPS.dll-Help.xml
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string[]] $Path,

    [Parameter(Mandatory)]
    [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$MamlNs = 'http://schemas.microsoft.com/maml/2004/10'
$CommandNs = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$DevNs = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Split-Section {
    # Splits lines into @{ Title; Lines } blocks at headings of the given level, ignoring
    # headings inside code fences.
    param([string[]] $Lines, [int] $Level)
    $prefix = ('#' * $Level) + ' '
    $sections = [System.Collections.Generic.List[object]]::new()
    $current = $null
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($prefix)) {
            $current = [pscustomobject]@{ Title = $line.Substring($prefix.Length).Trim(); Lines = [System.Collections.Generic.List[string]]::new() }
            $sections.Add($current)
        }
        elseif ($null -ne $current) {
            $current.Lines.Add($line)
        }
    }
    return , $sections
}

function Split-Block {
    # Splits section lines into text paragraphs and code fences, in order:
    # @{ Kind = 'Text' | 'Code'; Language; Text }.
    param([string[]] $Lines)
    $blocks = [System.Collections.Generic.List[object]]::new()
    $buffer = [System.Collections.Generic.List[string]]::new()
    $inFence = $false
    $language = ''
    $flushText = {
        $text = ($buffer -join "`n").Trim()
        if ($text) {
            foreach ($para in ($text -split '\n\s*\n')) {
                $blocks.Add([pscustomobject]@{ Kind = 'Text'; Language = ''; Text = (($para -split '\n' | ForEach-Object Trim) -join ' ') })
            }
        }
        $buffer.Clear()
    }
    foreach ($line in $Lines) {
        if ($line -match '^\s*```(\S*)') {
            if (-not $inFence) {
                & $flushText
                $inFence = $true
                $language = $Matches[1]
            }
            else {
                $blocks.Add([pscustomobject]@{ Kind = 'Code'; Language = $language; Text = ($buffer -join "`n").Trim("`n") })
                $buffer.Clear()
                $inFence = $false
            }
            continue
        }
        $buffer.Add($line)
    }
    if ($inFence) { throw "Unclosed code fence." }
    & $flushText
    return , $blocks
}

function Get-TextParagraph {
    param($Blocks)
    @($Blocks | Where-Object Kind -EQ 'Text' | ForEach-Object Text)
}

function Write-Para {
    param([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs)
    if (-not $Paragraphs) { $Paragraphs = @('') }
    foreach ($p in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $MamlNs, $p) }
}

function Read-CmdletPage {
    param([string] $File)
    $lines = [System.IO.File]::ReadAllLines($File)
    # Drop YAML front matter.
    if ($lines.Count -gt 0 -and $lines[0] -eq '---') {
        $end = [Array]::IndexOf($lines, '---', 1)
        if ($end -gt 0) { $lines = $lines[($end + 1)..($lines.Count - 1)] }
    }
    $top = Split-Section -Lines $lines -Level 1
    if ($top.Count -ne 1 -or $top[0].Title -notmatch '^[A-Za-z]+-[A-Za-z]+$') {
        throw "$File : expected exactly one '# Verb-Noun' heading."
    }
    $name = $top[0].Title
    $sections = @{}
    foreach ($s in (Split-Section -Lines $top[0].Lines -Level 2)) { $sections[$s.Title.ToUpperInvariant()] = $s.Lines }

    $get = { param($key) if ($sections.ContainsKey($key)) { [string[]]$sections[$key] } else { [string[]]@() } }

    $parameters = foreach ($p in (Split-Section -Lines (& $get 'PARAMETERS') -Level 3)) {
        if ($p.Title -eq 'CommonParameters') { continue }
        if ($p.Title -notmatch '^-(\w+)$') { throw "$File : parameter heading '### $($p.Title)' must be '### -Name'." }
        $parameterName = $Matches[1]
        $blocks = Split-Block -Lines $p.Lines
        $meta = @{}
        # PlatyPS writes one yaml block per group of parameter sets when a parameter is mandatory in some
        # sets only: the sets add up, and the parameter is required in the sets of the blocks that say so.
        $allSets = [System.Collections.Generic.List[string]]::new()
        $requiredIn = [System.Collections.Generic.List[string]]::new()
        foreach ($yaml in @($blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'yaml' })) {
            $blockMeta = @{}
            foreach ($l in ($yaml.Text -split '\n')) {
                if ($l -match '^\s*([^:]+):\s*(.*)$') { $blockMeta[$Matches[1].Trim()] = $Matches[2].Trim() }
            }
            $blockSets = @((($blockMeta['Parameter Sets'], '(All)' | Where-Object { $_ } | Select-Object -First 1) -split ',') | ForEach-Object Trim)
            $allSets.AddRange([string[]]$blockSets)
            if ($blockMeta['Required'] -match '^True') { $requiredIn.AddRange([string[]]$blockSets) }
            foreach ($k in $blockMeta.Keys) { if (-not $meta.ContainsKey($k)) { $meta[$k] = $blockMeta[$k] } }
        }
        $value = { param($k, $d) if ($meta.ContainsKey($k) -and $meta[$k]) { $meta[$k] } else { $d } }
        [pscustomobject]@{
            Name          = $parameterName
            Description   = Get-TextParagraph $blocks
            Type          = & $value 'Type' 'Object'
            Sets          = if ($allSets.Count -gt 0) { @($allSets | Select-Object -Unique) } else { @('(All)') }
            Aliases       = & $value 'Aliases' 'none'
            Required      = $requiredIn.Count -gt 0 -and ($requiredIn -contains '(All)' -or @($allSets | Where-Object { $requiredIn -notcontains $_ }).Count -eq 0)
            RequiredIn    = @($requiredIn)
            Position      = & $value 'Position' 'Named'
            Default       = & $value 'Default value' 'None'
            PipelineInput = & $value 'Accept pipeline input' 'False'
            Globbing      = (& $value 'Accept wildcard characters' 'False') -match '^True'
        }
    }

    $syntaxSets = @(Split-Section -Lines (& $get 'SYNTAX') -Level 3 | ForEach-Object { ($_.Title -replace '\s*\(Default\)\s*$', '').Trim() })

    $examples = foreach ($e in (Split-Section -Lines (& $get 'EXAMPLES') -Level 3)) {
        $blocks = Split-Block -Lines $e.Lines
        [pscustomobject]@{
            Title   = $e.Title
            Code    = (@($blocks | Where-Object Kind -EQ 'Code' | ForEach-Object Text) -join "`n`n")
            Remarks = Get-TextParagraph $blocks
        }
    }

    $typeEntries = {
        param([string[]] $SectionLines)
        foreach ($t in (Split-Section -Lines $SectionLines -Level 3)) {
            [pscustomobject]@{ Name = $t.Title; Description = Get-TextParagraph (Split-Block -Lines $t.Lines) }
        }
    }

    $links = foreach ($l in (& $get 'RELATED LINKS')) {
        if ($l -match '\[([^\]]+)\]\(([^)]*)\)') {
            $uri = if ($Matches[2] -match '^https?://') { $Matches[2] } else { '' }
            [pscustomobject]@{ Text = $Matches[1]; Uri = $uri }
        }
    }

    [pscustomobject]@{
        Name        = $name
        Synopsis    = Get-TextParagraph (Split-Block -Lines (& $get 'SYNOPSIS'))
        Description = Get-TextParagraph (Split-Block -Lines (& $get 'DESCRIPTION'))
        SyntaxSets  = $syntaxSets
        Parameters  = @($parameters)
        Examples    = @($examples)
        Inputs      = @(& $typeEntries (& $get 'INPUTS'))
        Outputs     = @(& $typeEntries (& $get 'OUTPUTS'))
        Notes       = Get-TextParagraph (Split-Block -Lines (& $get 'NOTES'))
        Links       = @($links)
    }
}

function Write-Parameter {
    param([System.Xml.XmlWriter] $Writer, $Parameter, [string] $InSet)
    $w = $Writer
    $w.WriteStartElement('command', 'parameter', $CommandNs)
    $required = if ($InSet -and $InSet -ne '(All)') { $Parameter.RequiredIn -contains $InSet -or $Parameter.RequiredIn -contains '(All)' } else { $Parameter.Required }
    $w.WriteAttributeString('required', $required.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', 'true')
    $w.WriteAttributeString('globbing', $Parameter.Globbing.ToString().ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $Parameter.PipelineInput)
    $w.WriteAttributeString('position', $Parameter.Position.ToLowerInvariant())
    $w.WriteAttributeString('aliases', $Parameter.Aliases)
    $w.WriteElementString('maml', 'name', $MamlNs, $Parameter.Name)
    $w.WriteStartElement('maml', 'description', $MamlNs)
    Write-Para $w $Parameter.Description
    $w.WriteEndElement()
    if ($Parameter.Type -notin 'SwitchParameter', 'System.Management.Automation.SwitchParameter') {
        $w.WriteStartElement('command', 'parameterValue', $CommandNs)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString($Parameter.Type)
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $DevNs)
    $w.WriteElementString('maml', 'name', $MamlNs, $Parameter.Type)
    $w.WriteElementString('maml', 'uri', $MamlNs, '')
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $DevNs, $Parameter.Default)
    $w.WriteEndElement()
}

function Write-TypeList {
    param([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, $Entries)
    $w = $Writer
    $w.WriteStartElement('command', $ListName, $CommandNs)
    foreach ($t in $Entries) {
        $w.WriteStartElement('command', $ItemName, $CommandNs)
        $w.WriteStartElement('dev', 'type', $DevNs)
        $w.WriteElementString('maml', 'name', $MamlNs, $t.Name)
        $w.WriteEndElement()
        $w.WriteStartElement('maml', 'description', $MamlNs)
        Write-Para $w $t.Description
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
}

$pages = foreach ($file in $Path) { Read-CmdletPage -File (Resolve-Path -LiteralPath $file).ProviderPath }

$outDir = Split-Path -Parent $OutputPath
if ($outDir) { $null = New-Item -ItemType Directory -Force -Path $outDir }
$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$w = [System.Xml.XmlWriter]::Create([System.IO.Path]::GetFullPath($OutputPath), $settings)
try {
    $w.WriteStartDocument()
    $w.WriteStartElement('helpItems', 'http://msh')
    $w.WriteAttributeString('schema', 'maml')
    foreach ($page in $pages) {
        $verb, $noun = $page.Name -split '-', 2
        $w.WriteStartElement('command', 'command', $CommandNs)
        $w.WriteAttributeString('xmlns', 'maml', $null, $MamlNs)
        $w.WriteAttributeString('xmlns', 'dev', $null, $DevNs)

        $w.WriteStartElement('command', 'details', $CommandNs)
        $w.WriteElementString('command', 'name', $CommandNs, $page.Name)
        $w.WriteElementString('command', 'verb', $CommandNs, $verb)
        $w.WriteElementString('command', 'noun', $CommandNs, $noun)
        $w.WriteStartElement('maml', 'description', $MamlNs)
        Write-Para $w $page.Synopsis
        $w.WriteEndElement()
        $w.WriteEndElement()

        $w.WriteStartElement('maml', 'description', $MamlNs)
        Write-Para $w $page.Description
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'syntax', $CommandNs)
        $sets = if ($page.SyntaxSets.Count -gt 0) { $page.SyntaxSets } else { @('(All)') }
        foreach ($set in $sets) {
            $w.WriteStartElement('command', 'syntaxItem', $CommandNs)
            $w.WriteElementString('maml', 'name', $MamlNs, $page.Name)
            foreach ($p in $page.Parameters) {
                if ($set -eq '(All)' -or $p.Sets -contains '(All)' -or $p.Sets -contains $set) { Write-Parameter $w $p -InSet $set }
            }
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'parameters', $CommandNs)
        foreach ($p in $page.Parameters) { Write-Parameter $w $p }
        $w.WriteEndElement()

        Write-TypeList $w 'inputTypes' 'inputType' $page.Inputs
        Write-TypeList $w 'returnValues' 'returnValue' $page.Outputs

        $w.WriteStartElement('maml', 'alertSet', $MamlNs)
        $w.WriteStartElement('maml', 'alert', $MamlNs)
        Write-Para $w $page.Notes
        $w.WriteEndElement()
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'examples', $CommandNs)
        foreach ($e in $page.Examples) {
            $w.WriteStartElement('command', 'example', $CommandNs)
            $w.WriteElementString('maml', 'title', $MamlNs, "-------------------------- $($e.Title) --------------------------")
            $w.WriteElementString('dev', 'code', $DevNs, $e.Code)
            $w.WriteStartElement('dev', 'remarks', $DevNs)
            Write-Para $w $e.Remarks
            $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteStartElement('command', 'relatedLinks', $CommandNs)
        foreach ($l in $page.Links) {
            $w.WriteStartElement('maml', 'navigationLink', $MamlNs)
            $w.WriteElementString('maml', 'linkText', $MamlNs, $l.Text)
            $w.WriteElementString('maml', 'uri', $MamlNs, $l.Uri)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()

        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndDocument()
}
finally {
    $w.Dispose()
}

Write-Verbose "Wrote help for $(@($pages).Count) command(s) to $OutputPath"
