# TunnelRequest bodies through a real tunnel: gzip-encoded JSON, chunked framing and binary
# bytes, as the local service sent them, with the decoded text on *BodyText.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force
    $null = Import-TunnelPSModule
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All

    if (-not ('TunnelPS.Tests.RawHttpSite' -as [type])) {
        Add-Type -TypeDefinition @'
using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;

namespace TunnelPS.Tests
{
    /// <summary>Answers every request with the same raw response bytes, then closes the connection.</summary>
    public sealed class RawHttpSite
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);

        public RawHttpSite() { _listener.Start(); _ = AcceptLoop(); }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public byte[] Response { get; set; } = Encoding.ASCII.GetBytes("HTTP/1.1 204 No Content\r\n\r\n");

        public void Stop() => _listener.Stop();

        private async Task AcceptLoop()
        {
            while (true)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(); } catch { return; }
                _ = Serve(client);
            }
        }

        private async Task Serve(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var buffer = new byte[65536];
                    var seen = new StringBuilder();
                    while (!seen.ToString().Contains("\r\n\r\n"))
                    {
                        int read = await stream.ReadAsync(buffer, 0, buffer.Length);
                        if (read == 0) return;
                        seen.Append(Encoding.Latin1.GetString(buffer, 0, read));
                    }
                    await stream.WriteAsync(Response, 0, Response.Length);
                }
                catch { }
            }
        }
    }
}
'@
    }

    function ConvertTo-RawResponse([string] $Head, [byte[]] $Body) {
        [byte[]] ([System.Text.Encoding]::ASCII.GetBytes($Head.Replace("`n", "`r`n") + "`r`n`r`n") + $Body)
    }

    $server = Start-TunnelServer -Port 0 -HttpPort 0
    $site = [TunnelPS.Tests.RawHttpSite]::new()
    $tunnel = Start-Tunnel -Http $site.Port -Scheme http -Name 'req-bodies'
    $url = $tunnel.PublicUrl
}

AfterAll {
    Get-Tunnel | Stop-Tunnel
    Get-TunnelServer | Stop-TunnelServer
    Clear-TunnelRequest -All
    $site.Stop()
}

Describe 'TunnelRequest bodies' {
    It 'keeps a gzip body as sent and decodes it for ResponseBodyText and IsJson' {
        $json = '{"message":"héllo","items":[1,2,3]}'
        $memory = [System.IO.MemoryStream]::new()
        $gzip = [System.IO.Compression.GZipStream]::new($memory, [System.IO.Compression.CompressionMode]::Compress)
        $plain = [System.Text.Encoding]::UTF8.GetBytes($json)
        $gzip.Write($plain, 0, $plain.Length)
        $gzip.Dispose()
        $compressed = $memory.ToArray()
        $site.Response = ConvertTo-RawResponse "HTTP/1.1 200 OK`nContent-Type: application/json; charset=utf-8`nContent-Encoding: gzip`nContent-Length: $($compressed.Length)`nConnection: close" $compressed

        $null = Invoke-TestRequest "$url/gzip"
        Wait-Until { @(Get-TunnelRequest -Path '/gzip').Count -ge 1 } -Because 'the request is captured'
        $request = Get-TunnelRequest -Path '/gzip'

        $request.ResponseBody | Should -Be $compressed
        $request.ResponseBodyText | Should -Be $json
        $request.IsJson | Should -BeTrue
        $request.ResponseHeaders['Content-Encoding'] | Should -Be 'gzip'
    }

    It 'removes chunk framing' {
        $site.Response = ConvertTo-RawResponse "HTTP/1.1 200 OK`nContent-Type: text/plain`nTransfer-Encoding: chunked`nConnection: close" ([System.Text.Encoding]::ASCII.GetBytes("5`r`nHello`r`n7`r`n, chunk`r`n0`r`n`r`n"))

        $null = Invoke-TestRequest "$url/chunked"
        Wait-Until { @(Get-TunnelRequest -Path '/chunked').Count -ge 1 } -Because 'the request is captured'

        (Get-TunnelRequest -Path '/chunked').ResponseBodyText | Should -Be 'Hello, chunk'
    }

    It 'keeps binary bodies byte for byte' {
        [byte[]] $bytes = 0..255
        $site.Response = ConvertTo-RawResponse "HTTP/1.1 200 OK`nContent-Type: application/octet-stream`nContent-Length: 256`nConnection: close" $bytes

        $null = Invoke-TestRequest "$url/binary"
        Wait-Until { @(Get-TunnelRequest -Path '/binary').Count -ge 1 } -Because 'the request is captured'
        $request = Get-TunnelRequest -Path '/binary'

        $request.ResponseBody | Should -Be $bytes
        $request.IsJson | Should -BeFalse
        $request.BytesOut | Should -BeGreaterThan 256
    }
}
