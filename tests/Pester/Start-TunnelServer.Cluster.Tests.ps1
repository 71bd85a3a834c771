# Start-TunnelServer -Cluster: a node of a cluster on a real redis-server of the test's own (loopback, a free port,
# no persistence). Skipped, with the reason, when redis-server is not installed.

BeforeDiscovery {
    $script:RedisServer = Get-Command redis-server -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    $script:NoRedis = $null -eq $script:RedisServer
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    $script:Manifest = Get-TunnelPSManifestPath
    $script:TestModules = Join-Path $PSScriptRoot 'TestModules'
    $script:Secret = 'cluster-secret-for-pester-01'

    $redisPath = Get-Command redis-server -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    $script:Redis = $null
    if ($null -ne $redisPath) {
        $script:RedisPort = Get-FreeTcpPort
        $script:RedisDir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) ("tunnelps-redis-" + [guid]::NewGuid()))).FullName
        $startInfo = [System.Diagnostics.ProcessStartInfo]::new($redisPath.Source)
        foreach ($a in '--port', "$script:RedisPort", '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', $script:RedisDir, '--daemonize', 'no') {
            $startInfo.ArgumentList.Add($a)
        }
        $startInfo.RedirectStandardOutput = $true
        $startInfo.UseShellExecute = $false
        $script:Redis = [System.Diagnostics.Process]::Start($startInfo)
        $null = $script:Redis.StandardOutput.ReadToEndAsync()
        Wait-Until {
            try {
                $client = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $script:RedisPort)
                $client.Dispose()
                $true
            }
            catch { $false }
        } -Timeout 20 -Because 'redis-server accepts connections'
        $script:RedisAddress = "redis://127.0.0.1:$script:RedisPort"
    }
}

AfterAll {
    Get-TunnelServer | Stop-TunnelServer
    if ($null -ne $script:Redis) {
        $script:Redis.Kill()
        $script:Redis.WaitForExit()
        Remove-Item -LiteralPath $script:RedisDir -Recurse -Force -ErrorAction Ignore
    }
}

Describe 'Start-TunnelServer -Cluster' {
    AfterEach {
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'starts nodes that list each other with Get-TunnelServer -ClusterNode' -Skip:$script:NoRedis {
        $a = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecret $script:Secret -NodeName 'pester-a'
        $b = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecret $script:Secret -NodeName 'pester-b' -NodeAddress 'node-b.example:443'

        $a.NodeName | Should -Be 'pester-a'
        $b.NodeName | Should -Be 'pester-b'
        Wait-Until { @(Get-TunnelServer -Port $a.Port -ClusterNode).Count -eq 2 } -Because 'both nodes announced themselves'
        $nodes = @(Get-TunnelServer -Port $a.Port -ClusterNode)
        $nodes[0] | Should -BeOfType ([TunnelPS.TunnelServerNode])
        $nodes.Name | Should -Be @('pester-a', 'pester-b')
        $nodes[1].Address | Should -Be 'node-b.example:443'
        $nodes[0].Address | Should -Be $a.ServerAddress
        $nodes[0].Server | Should -Be $a.ServerAddress
    }

    It 'serves a tunnel opened on one node through another node' -Skip:$script:NoRedis {
        $a = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecret $script:Secret -NodeName 'pester-owner'
        $b = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecret $script:Secret -NodeName 'pester-forwarder'
        $site = Start-TestHttpSite -Body 'served by the owner'
        try {
            $tunnel = @(Start-Tunnel -Http $site.Url -Subdomain 'pester-cluster' -ServerAddress "localhost:$($a.Port)" -ServerCertificateThumbprint $a.CertificateThumbprint -Name 'cluster-web')[0]
            $through = "http://pester-cluster.localhost:$($b.HttpPort)/"
            (Invoke-TestRequest -Uri $through).Body | Should -Be 'served by the owner'
            Wait-Until { @((Get-TunnelServer -Port $b.Port -ClusterNode) | Where-Object Name -EQ 'pester-owner').Tunnels -contains $tunnel.PublicUrl } -Because 'the owner announced its tunnel'
        }
        finally {
            Get-Tunnel | Stop-Tunnel
            $site.Stop()
        }
    }

    It 'reads the cluster secret from SecretManagement with -ClusterSecretName' -Skip:$script:NoRedis {
        $savedModulePath = $env:PSModulePath
        try {
            $env:PSModulePath = $script:TestModules + [IO.Path]::PathSeparator + $env:PSModulePath
            Import-Module Microsoft.PowerShell.SecretManagement -Force
            Reset-TestSecretStore
            Set-Secret -Name ClusterSecret -Secret $script:Secret
            $node = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecretName ClusterSecret -NodeName 'pester-secret'
            $node.NodeName | Should -Be 'pester-secret'
        }
        finally {
            Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
            $env:PSModulePath = $savedModulePath
        }
    }

    It 'reads the Redis password from SecretManagement with -ClusterPasswordName' -Skip:$script:NoRedis {
        $savedModulePath = $env:PSModulePath
        try {
            $env:PSModulePath = $script:TestModules + [IO.Path]::PathSeparator + $env:PSModulePath
            Import-Module Microsoft.PowerShell.SecretManagement -Force
            Reset-TestSecretStore
            Set-Secret -Name RedisPassword -Secret 'any-password-the-open-test-redis-takes'
            $node = Start-TunnelServer -Port 0 -HttpPort 0 -Cluster $script:RedisAddress -ClusterSecret $script:Secret -ClusterPasswordName RedisPassword -NodeName 'pester-redis-password'
            $node.NodeName | Should -Be 'pester-redis-password'
            { Start-TunnelServer -Port 0 -HttpPort 0 -Cluster ($script:RedisAddress -replace '^redis://', 'redis://:inline@') -ClusterSecret $script:Secret -ClusterPasswordName RedisPassword -NodeName 'pester-twice' } |
                Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*Redis password is given twice*'
        }
        finally {
            Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
            $env:PSModulePath = $savedModulePath
        }
    }

    It 'refuses -ClusterCaFile for a Redis without TLS with ServerStartFailed' {
        $ca = Join-Path $TestDrive 'ca.crt'
        Set-Content -LiteralPath $ca -Value 'not read: the address is checked first'
        { Start-TunnelServer -Port 0 -HttpPort 0 -Cluster 'redis://127.0.0.1:6379' -ClusterSecret 'cluster-secret-for-pester-01' -ClusterCaFile $ca } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*-Cluster is not a rediss:// address*'
    }

    It 'refuses a Redis that cannot be reached with ServerStartFailed' {
        $port = Get-FreeTcpPort
        { Start-TunnelServer -Port 0 -HttpPort 0 -Cluster "redis://127.0.0.1:$port" -ClusterSecret 'cluster-secret-for-pester-01' -NodeName 'nowhere' } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage "*Redis at 127.0.0.1:$port*cannot be reached*"
        @(Get-TunnelServer).Count | Should -Be 0
    }

    It 'refuses a Sentinel service that no sentinel answers with ServerStartFailed naming the service' {
        $port = Get-FreeTcpPort
        { Start-TunnelServer -Port 0 -HttpPort 0 -Cluster "redis-sentinel://127.0.0.1:$port/tunnelps" -ClusterSecret 'cluster-secret-for-pester-01' -NodeName 'nowhere' } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage "*Redis Sentinel service 'tunnelps' at 127.0.0.1:$port*"
        @(Get-TunnelServer).Count | Should -Be 0
    }

    It 'refuses <Case> with InvalidArgument' -TestCases @(
        @{ Case = 'a cluster option without -Cluster'; Arguments = @{ ClusterSecret = 'cluster-secret-for-pester-01' }; Message = '*-ClusterSecret configures a cluster node*-Cluster is not given*' }
        @{ Case = 'a Redis CA file without -Cluster'; Arguments = @{ ClusterCaFile = 'ca.crt' }; Message = '*-ClusterCaFile configures a cluster node*-Cluster is not given*' }
        @{ Case = '-Cluster without a secret'; Arguments = @{ Cluster = 'redis://127.0.0.1:6379' }; Message = '*exactly one of -ClusterSecret and -ClusterSecretName*' }
        @{ Case = 'both secrets'; Arguments = @{ Cluster = 'redis://127.0.0.1:6379'; ClusterSecret = 'cluster-secret-for-pester-01'; ClusterSecretName = 'x' }; Message = '*exactly one of -ClusterSecret and -ClusterSecretName*' }
        @{ Case = 'an address that is not Redis'; Arguments = @{ Cluster = 'http://127.0.0.1:6379'; ClusterSecret = 'cluster-secret-for-pester-01' }; Message = "*-Cluster 'http://127.0.0.1:6379' is not a Redis address*" }
        @{ Case = 'a Sentinel address without its service'; Arguments = @{ Cluster = 'redis-sentinel://127.0.0.1:26379'; ClusterSecret = 'cluster-secret-for-pester-01' }; Message = "*names no Sentinel service*redis-sentinel://host1:26379,host2:26379/mymaster*" }
    ) {
        param($Case, $Arguments, $Message)
        { Start-TunnelServer -Port 0 -HttpPort 0 @Arguments } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage $Message
    }

    It 'refuses a short secret with ServerStartFailed before it listens' {
        { Start-TunnelServer -Port 0 -HttpPort 0 -Cluster 'redis://127.0.0.1:6379' -ClusterSecret 'short' } |
            Should -Throw -ErrorId 'ServerStartFailed,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*secret of at least 16 characters*'
    }
}

Describe 'Start-TunnelServer -ConfigPath' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'starts a cluster node from the file, with its token file beside it' -Skip:$script:NoRedis {
        $token = 'token-of-the-config-file-node'
        Set-Content -LiteralPath (Join-Path $TestDrive 'tokens.yml') -Value "tokens:`n  - token: $token`n    subdomains: [from-file]"
        $config = Join-Path $TestDrive 'node-a.yml'
        Set-Content -LiteralPath $config -Value @"
port: 0
http_port: 0
auth_token_file: tokens.yml
limits:
  max_tunnels_per_session: 3
cluster:
  redis: [$script:RedisAddress]
  secret: $script:Secret
  node_name: file-node-a
"@
        $a = Start-TunnelServer -ConfigPath $config
        $b = Start-TunnelServer -ConfigPath $config -NodeName 'file-node-b' -NodeAddress 'file-node-b.example:443'
        $a.NodeName | Should -Be 'file-node-a'
        $b.NodeName | Should -Be 'file-node-b'
        Wait-Until { @(Get-TunnelServer -Port $a.Port -ClusterNode).Count -eq 2 } -Because 'both nodes announced themselves'
        (@(Get-TunnelServer -Port $a.Port -ClusterNode) | Where-Object Name -EQ 'file-node-b').Address | Should -Be 'file-node-b.example:443'

        $site = Start-TestHttpSite -Body 'node from a file'
        try {
            $tunnel = @(Start-Tunnel -Http $site.Url -Subdomain 'from-file' -AuthToken $token -ServerAddress "localhost:$($a.Port)" -ServerCertificateThumbprint $a.CertificateThumbprint -Name 'file-web')[0]
            $tunnel.PublicUrl | Should -BeLike 'http://from-file.localhost:*'
            (Invoke-TestRequest -Uri "http://from-file.localhost:$($b.HttpPort)/").Body | Should -Be 'node from a file'
        }
        finally {
            $site.Stop()
        }
    }

    It 'reads the cluster secret named by secret_name from SecretManagement' -Skip:$script:NoRedis {
        $savedModulePath = $env:PSModulePath
        try {
            $env:PSModulePath = $script:TestModules + [IO.Path]::PathSeparator + $env:PSModulePath
            Import-Module Microsoft.PowerShell.SecretManagement -Force
            Reset-TestSecretStore
            Set-Secret -Name FileClusterSecret -Secret $script:Secret
            $config = Join-Path $TestDrive 'named-secret.yml'
            Set-Content -LiteralPath $config -Value "port: 0`nhttp_port: 0`ncluster:`n  redis: $script:RedisAddress`n  secret_name: FileClusterSecret`n  node_name: file-secret-node"
            $node = Start-TunnelServer -ConfigPath $config
            $node.NodeName | Should -Be 'file-secret-node'
        }
        finally {
            Remove-Module Microsoft.PowerShell.SecretManagement -Force -ErrorAction SilentlyContinue
            $env:PSModulePath = $savedModulePath
        }
    }

    It 'lets a parameter on the command line win over the file' {
        $config = Join-Path $TestDrive 'ports.yml'
        Set-Content -LiteralPath $config -Value "domain: from-file.test`nport: 0`nhttp_port: 0"
        $server = Start-TunnelServer -ConfigPath $config -Domain 'from-command.test'
        $server.Domain | Should -Be 'from-command.test'
        $server.Port | Should -BeGreaterThan 0
    }

    It 'reports a bad value with ConfigurationInvalid at its line and column' {
        $config = Join-Path $TestDrive 'bad.yml'
        Set-Content -LiteralPath $config -Value "port: 0`ncluster:`n  redis: http://127.0.0.1:6379`n  secret: cluster-secret-for-pester-01"
        { Start-TunnelServer -ConfigPath $config } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage "*bad.yml:3:10: -Cluster 'http://127.0.0.1:6379' is not a Redis address*"
        Set-Content -LiteralPath $config -Value "port: 0`nlimits:`n  max_sessions: none"
        { Start-TunnelServer -ConfigPath $config } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage "*bad.yml:3:17: 'max_sessions' is 'none'*"
        { Start-TunnelServer -ConfigPath (Join-Path $TestDrive 'missing.yml') } |
            Should -Throw -ErrorId 'ConfigurationInvalid,TunnelPS.Commands.StartTunnelServerCommand' -ExpectedMessage '*server config file*does not exist*'
        @(Get-TunnelServer).Count | Should -Be 0
    }
}

Describe 'A server without -Cluster' {
    It 'never loads the Redis client' {
        $result = Invoke-FreshPwsh -Script @"
`$ErrorActionPreference = 'Stop'
Import-Module '$script:Manifest'
`$server = Start-TunnelServer -Port 0 -HttpPort 0
`$loaded = [System.Runtime.Loader.AssemblyLoadContext]::All | ForEach-Object { `$_.Assemblies } | Where-Object { `$_.GetName().Name -in 'StackExchange.Redis', 'Pipelines.Sockets.Unofficial' }
`$server | Stop-TunnelServer
"redis-loaded:`$(@(`$loaded).Count)"
"@
        $result.Output | Should -Contain 'redis-loaded:0'
        $result.ExitCode | Should -Be 0
    }
}

Describe 'Start-Tunnel -ServerAddress with several nodes' {
    AfterEach {
        Get-Tunnel | Stop-Tunnel
        Get-TunnelServer | Stop-TunnelServer
    }

    It 'opens the tunnel on a node that answers when another of the list does not' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'from a node'
        try {
            $dead = Get-FreeTcpPort
            # Whichever node the client picks first, it ends up on the live one.
            foreach ($i in 1..3) {
                $tunnel = Start-Tunnel -Http $site.Url -ServerAddress "localhost:$dead,localhost:$($server.Port)" -ServerCertificateThumbprint $server.CertificateThumbprint -Name "multi-$i"
                @($tunnel).Count | Should -BeGreaterThan 0
                (Invoke-TestRequest -Uri @($tunnel)[0].PublicUrl).Body | Should -Be 'from a node'
                $tunnel | Stop-Tunnel
            }
        }
        finally {
            $site.Stop()
        }
    }

    It 'takes the nodes as an array, as PowerShell passes -ServerAddress node1:443,node2:443' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'from an array'
        try {
            $dead = Get-FreeTcpPort
            # Unquoted, as the docs show it: PowerShell makes the comma list a string[].
            $tunnel = Start-Tunnel -Http $site.Url -ServerAddress localhost:$dead,localhost:$($server.Port) -ServerCertificateThumbprint $server.CertificateThumbprint -Name 'nodes-array'
            (Invoke-TestRequest -Uri @($tunnel)[0].PublicUrl).Body | Should -Be 'from an array'
        }
        finally {
            $site.Stop()
        }
    }

    It 'takes the nodes from a server_addr list of the config file' {
        $server = Start-TunnelServer -Port 0 -HttpPort 0
        $site = Start-TestHttpSite -Body 'from a list'
        $config = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-nodes-" + [guid]::NewGuid().ToString('n') + '.yml')
        try {
            $dead = Get-FreeTcpPort
            Set-Content -LiteralPath $config -Encoding utf8NoBOM -Value @"
server_addr:
  - localhost:$dead
  - localhost:$($server.Port)
server_certificate_thumbprint: $($server.CertificateThumbprint)
tunnels:
  nodes-list: { proto: { http: $($site.Port) } }
"@
            $tunnel = Start-Tunnel -Name 'nodes-list' -ConfigPath $config
            (Invoke-TestRequest -Uri @($tunnel)[0].PublicUrl).Body | Should -Be 'from a list'
        }
        finally {
            $site.Stop()
            Remove-Item -LiteralPath $config -ErrorAction Ignore
        }
    }

    It 'refuses a list with an empty item with InvalidArgument' {
        { Start-Tunnel -Http 3000 -ServerAddress 'a.example:443,,b.example:443' } |
            Should -Throw -ErrorId 'InvalidArgument,TunnelPS.Commands.StartTunnelCommand' -ExpectedMessage '*has an empty item*'
    }
}
