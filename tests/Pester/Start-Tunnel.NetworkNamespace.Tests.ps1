# Restrictive networks, for real: the tunnel CLIENT runs in a fresh pwsh inside a network namespace
# created here (root only), joined to the host by a veth pair (the test's own 10.211.N.0/30 link; the
# namespace has no other route). The SERVER runs in this process on port 443 (-Port 443 -HttpPort 0).
#   1. Only port 443 to the server is open (iptables in the namespace; without iptables only routing
#      limits it): the tunnel works over 443, the server's other ports are unreachable.
#   2. Only the proxy is reachable (tinyproxy on the host veth address): direct dials to the server fail,
#      the tunnel works through -Proxy, and the proxy log shows the CONNECTs.
# A request to the public URL must reach a service that listens only inside the namespace.

BeforeDiscovery {
    $script:Reason = $null
    if (-not $IsLinux) { $script:Reason = 'network namespaces need Linux' }
    elseif ((& id -u) -ne '0') { $script:Reason = 'creating network namespaces needs root (run as root to include this test)' }
    elseif (-not (Get-Command ip -CommandType Application -ErrorAction SilentlyContinue)) { $script:Reason = 'the ip command (iproute2) is not installed' }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer

    $script:Clients = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()
    $script:ProxyPids = [System.Collections.Generic.List[int]]::new()
    $script:Namespaces = [System.Collections.Generic.List[string]]::new()
    $script:Dir = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-netns-" + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Path $script:Dir
    $script:HasIptables = [bool](Get-Command iptables -CommandType Application -ErrorAction SilentlyContinue)

    function Invoke-Native {
        param([Parameter(Mandatory)] [string] $Command, [string[]] $Arguments = @(), [switch] $AllowFailure)
        $output = & $Command @Arguments 2>&1
        if ($LASTEXITCODE -ne 0 -and -not $AllowFailure) { throw "$Command $($Arguments -join ' ') failed ($LASTEXITCODE): $output" }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = "$output" }
    }

    function New-TestNamespace {
        # A namespace joined to the host by a veth pair; returns its names and the two addresses.
        $id = Get-Random -Minimum 1000 -Maximum 9999
        $octet = Get-Random -Minimum 1 -Maximum 250
        $ns = [pscustomobject]@{
            Name = "tpsns$id"; HostLink = "tpsh$id"; NsLink = "tpsn$id"
            HostAddress = "10.211.$octet.1"; NsAddress = "10.211.$octet.2"; Subnet = "10.211.$octet.0/30"
        }
        Invoke-Native ip 'netns', 'add', $ns.Name | Out-Null
        $script:Namespaces.Add($ns.Name)
        Invoke-Native ip 'link', 'add', $ns.HostLink, 'type', 'veth', 'peer', 'name', $ns.NsLink | Out-Null
        Invoke-Native ip 'link', 'set', $ns.NsLink, 'netns', $ns.Name | Out-Null
        Invoke-Native ip 'addr', 'add', "$($ns.HostAddress)/30", 'dev', $ns.HostLink | Out-Null
        Invoke-Native ip 'link', 'set', $ns.HostLink, 'up' | Out-Null
        Invoke-Native ip 'netns', 'exec', $ns.Name, 'ip', 'addr', 'add', "$($ns.NsAddress)/30", 'dev', $ns.NsLink | Out-Null
        Invoke-Native ip 'netns', 'exec', $ns.Name, 'ip', 'link', 'set', $ns.NsLink, 'up' | Out-Null
        Invoke-Native ip 'netns', 'exec', $ns.Name, 'ip', 'link', 'set', 'lo', 'up' | Out-Null
        $ns
    }

    function Set-NamespaceFirewall {
        # Inside the namespace: towards the host, allow only tcp to $Port; reject everything else.
        param($Ns, [int] $Port)
        if (-not $script:HasIptables) { return $false }
        $rules = @(
            @('-A', 'OUTPUT', '-o', $Ns.NsLink, '-p', 'tcp', '-d', $Ns.HostAddress, '--dport', "$Port", '-j', 'ACCEPT'),
            @('-A', 'OUTPUT', '-o', $Ns.NsLink, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'),
            @('-A', 'OUTPUT', '-o', $Ns.NsLink, '-j', 'REJECT'))
        foreach ($rule in $rules) {
            $r = Invoke-Native ip (@('netns', 'exec', $Ns.Name, 'iptables') + $rule) -AllowFailure
            if ($r.ExitCode -ne 0) {
                Write-Warning "iptables is not usable in the namespace ($($r.Output)); only routing restricts it."
                return $false
            }
        }
        $true
    }

    function Test-TcpFromNamespace {
        # True when a TCP connection from inside the namespace to host:port succeeds within 10 s (refusals come back at once;
        # the margin is for a loaded machine, where starting bash in the namespace alone can take seconds).
        param($Ns, [string] $Address, [int] $Port)
        $r = Invoke-Native ip 'netns', 'exec', $Ns.Name, 'timeout', '10', 'bash', '-c', "exec 3<>/dev/tcp/$Address/$Port" -AllowFailure
        $r.ExitCode -eq 0
    }

    function Start-NamespaceClient {
        # A fresh pwsh in the namespace: a local site (inside the namespace only), then Start-Tunnel -Name web
        # from a config file written there; prints URL=<public url> and stays up until killed.
        param($Ns, [string] $ServerAddr, [string] $Thumbprint, [string] $Token, [string] $Proxy)
        $name = "client-$($Ns.Name)-$(Get-Random)"
        $script = Join-Path $script:Dir "$name.ps1"
        $config = Join-Path $script:Dir "$name.yml"
        $proxyArgument = if ($Proxy) { "-Proxy '$Proxy'" } else { '' }
        Set-Content -LiteralPath $script -Encoding utf8NoBOM -Value @"
`$ErrorActionPreference = 'Stop'
Remove-Item Env:HTTPS_PROXY, Env:https_proxy, Env:HTTP_PROXY, Env:http_proxy, Env:ALL_PROXY, Env:all_proxy -ErrorAction SilentlyContinue
Import-Module '$(Get-TunnelPSManifestPath)'
Import-Module '$(Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1')'
`$site = Start-TestHttpSite -Body 'inside the namespace'
Set-Content -LiteralPath '$config' -Encoding utf8NoBOM -Value @(
    'server_addr: "$ServerAddr"'
    'server_certificate_thumbprint: "$Thumbprint"'
    'authtoken: "$Token"'
    'tunnels:'
    "  web: { proto: { http: `$(`$site.Port) } }"
)
try {
    `$tunnel = Start-Tunnel -Name web -ConfigPath '$config' $proxyArgument
    [Console]::Out.WriteLine("URL=`$(`$tunnel.PublicUrl)")
}
catch {
    [Console]::Out.WriteLine("ERROR=`$(`$_.FullyQualifiedErrorId): `$(`$_.Exception.Message)")
    exit 1
}
[Console]::Out.Flush()
# Keep the tunnel up until the test kills this process in AfterAll.
[System.Threading.Thread]::Sleep([System.Threading.Timeout]::Infinite)
"@
        $startInfo = [System.Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($a in @('netns', 'exec', $Ns.Name, [Environment]::ProcessPath)) { $startInfo.ArgumentList.Add($a) }
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            $startInfo.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
        }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $script) { $startInfo.ArgumentList.Add($a) }
        $startInfo.RedirectStandardOutput = $true
        $startInfo.RedirectStandardError = $true
        $startInfo.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($startInfo)
        $script:Clients.Add($process)
        $stderr = $process.StandardError.ReadToEndAsync()
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        $seen = [System.Collections.Generic.List[string]]::new()
        while ([DateTime]::UtcNow -lt $deadline) {
            $read = $process.StandardOutput.ReadLineAsync()
            if (-not $read.Wait([TimeSpan]::FromSeconds(90))) { break }
            $line = $read.Result
            if ($null -eq $line) { break }
            $seen.Add($line)
            if ($line -like 'URL=*') { return [pscustomobject]@{ Process = $process; Url = $line.Substring(4) } }
            if ($line -like 'ERROR=*') { break }
        }
        if (-not $process.HasExited) { $process.Kill($true) }
        $errText = if ($stderr.Wait(5000)) { $stderr.Result } else { '' }
        throw "The client in namespace $($Ns.Name) did not open its tunnel. Output: $($seen -join ' | ') $errText"
    }
}

AfterAll {
    foreach ($p in $script:Clients) {
        if (-not $p.HasExited) { $p.Kill($true); $null = $p.WaitForExit(10000) }
        $p.Dispose()
    }
    foreach ($id in $script:ProxyPids) { Stop-Process -Id $id -ErrorAction SilentlyContinue }
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    foreach ($ns in $script:Namespaces) { & ip netns del $ns 2>&1 | Out-Null }   # deletes its veth pair too
    Remove-Item -LiteralPath $script:Dir -Recurse -Force -ErrorAction SilentlyContinue
}

# -ForEach hands the skip reason to the run phase, where Set-ItResult shows it with each skipped test.
Describe 'A client in a network namespace' -ForEach @(@{ SkipReason = $script:Reason }) {
    BeforeAll {
        if ($SkipReason) { return }
        $server = Start-TunnelServer -Port 443 -HttpPort 0 -AuthToken 'netns-token'
    }

    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
    }

    It 'reaches the server where only port 443 is open' {
        $ns = New-TestNamespace
        $firewalled = Set-NamespaceFirewall $ns 443
        Test-TcpFromNamespace $ns $ns.HostAddress 443 | Should -BeTrue -Because 'port 443 is open'
        if ($firewalled) {
            Test-TcpFromNamespace $ns $ns.HostAddress $server.HttpPort | Should -BeFalse -Because 'iptables allows only 443'
        }
        Test-TcpFromNamespace $ns '127.0.0.1' 443 | Should -BeFalse -Because "the host's loopback is not the namespace's"

        # server_addr without a port: the client's default port, 443.
        $client = Start-NamespaceClient $ns -ServerAddr $ns.HostAddress -Thumbprint $server.CertificateThumbprint -Token 'netns-token'

        $client.Url | Should -Match "^http://[a-z0-9]+\.localhost:$($server.HttpPort)$"
        $response = Invoke-TestRequest "$($client.Url)/from-the-host"
        $response.StatusCode | Should -Be 200
        $response.Body | Should -Be 'inside the namespace'
    }

    It 'reaches the server only through the HTTP proxy, with -Proxy' {
        $ns = New-TestNamespace
        for ($attempt = 1; $attempt -le 3; $attempt++) {   # a random port can be taken between probe and bind
            $lines = @(& bash (Join-Path (Get-RepositoryRoot) 'tests/TestSupport/start-tinyproxy.sh') --listen $ns.HostAddress --allow $ns.Subnet 2>&1 | ForEach-Object { "$_" })
            if ($LASTEXITCODE -eq 0) { break }
        }
        $LASTEXITCODE | Should -Be 0 -Because "start-tinyproxy.sh must start tinyproxy: $($lines -join ' | ')"
        $lines = $lines -match '^[A-Z]+='
        $info = @{}; foreach ($line in $lines) { $k, $v = $line -split '=', 2; $info[$k] = $v }
        $script:ProxyPids.Add([int]$info.PID)
        $proxyPort = [int]$info.PORT

        $firewalled = Set-NamespaceFirewall $ns $proxyPort
        # With iptables the server's own address is blocked; without, the test names it by the host's
        # loopback, which the namespace cannot reach but the proxy can.
        $serverHost = if ($firewalled) { $ns.HostAddress } else { '127.0.0.1' }
        Test-TcpFromNamespace $ns $serverHost 443 | Should -BeFalse -Because 'the server is not reachable directly'
        Test-TcpFromNamespace $ns $ns.HostAddress $proxyPort | Should -BeTrue -Because 'the proxy is reachable'

        $client = Start-NamespaceClient $ns -ServerAddr "$($serverHost):443" -Thumbprint $server.CertificateThumbprint -Token 'netns-token' -Proxy "http://$($ns.HostAddress):$proxyPort"

        $response = Invoke-TestRequest "$($client.Url)/via-proxy"
        $response.StatusCode | Should -Be 200
        $response.Body | Should -Be 'inside the namespace'
        $connects = @(Get-Content -LiteralPath $info.LOG | Where-Object { $_ -match "CONNECT $([regex]::Escape($serverHost)):443 " })
        $connects.Count | Should -BeGreaterOrEqual 2 -Because 'the control and proxy connections all go through the proxy'
    }
}
