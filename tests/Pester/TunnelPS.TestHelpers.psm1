# Shared helpers for the TunnelPS Pester tests. Import in BeforeAll:
#     Import-Module (Join-Path $PSScriptRoot 'TunnelPS.TestHelpers.psm1') -Force

Set-StrictMode -Version 3.0

$script:RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
$script:ModuleManifest = Join-Path $script:RepoRoot 'out/TunnelPS/TunnelPS.psd1'

if (-not ('TunnelPS.Tests.TestHttpSite' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace TunnelPS.Tests
{
    /// <summary>One request the test site received.</summary>
    public sealed class TestHttpRequest
    {
        public string Method { get; init; } = "";
        public string Path { get; init; } = "";
        public string Head { get; init; } = "";
        public DateTimeOffset Time { get; init; }
    }

    /// <summary>
    /// A tiny HTTP/1.1 site on 127.0.0.1: async accept loop, keep-alive, fixed answer.
    /// Runs on the thread pool, so the runspace that started it stays free.
    /// </summary>
    public sealed class TestHttpSite : IDisposable
    {
        private const int MaxHeadBytes = 64 * 1024;
        private const int MaxRecordedRequests = 1000;
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _acceptLoop;
        private int _requestCount;

        public TestHttpSite(int statusCode, string body, string contentType) : this(statusCode, body, contentType, 0) { }

        public TestHttpSite(int statusCode, string body, string contentType, int port)
        {
            StatusCode = statusCode;
            Body = body ?? "";
            ContentType = contentType ?? "text/plain; charset=utf-8";
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _acceptLoop = AcceptLoopAsync();
        }

        public int Port { get; }
        public string Url => "http://127.0.0.1:" + Port + "/";
        public int StatusCode { get; set; }
        public string Body { get; set; }
        public string ContentType { get; set; }
        public int RequestCount => Volatile.Read(ref _requestCount);
        public ConcurrentQueue<TestHttpRequest> Requests { get; } = new();

        public void Stop()
        {
            if (_stop.IsCancellationRequested) return;
            _stop.Cancel();
            _listener.Stop();
            try { _acceptLoop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }

        public void Dispose() => Stop();

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception) { return; }
                _ = ServeAsync(client);
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            try
            {
                using (client)
                {
                    client.NoDelay = true;
                    NetworkStream stream = client.GetStream();
                    byte[] buffer = new byte[MaxHeadBytes];
                    int filled = 0;
                    while (!_stop.IsCancellationRequested)
                    {
                        int headEnd;
                        while ((headEnd = IndexOfHeadEnd(buffer, filled)) < 0)
                        {
                            if (filled == buffer.Length) return;
                            int read = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token).ConfigureAwait(false);
                            if (read == 0) return;
                            filled += read;
                        }

                        string head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                        string[] lines = head.Split("\r\n");
                        string[] requestLine = lines[0].Split(' ');
                        long contentLength = 0;
                        bool close = false;
                        foreach (string line in lines)
                        {
                            int colon = line.IndexOf(':');
                            if (colon <= 0) continue;
                            string name = line.Substring(0, colon).Trim();
                            string value = line.Substring(colon + 1).Trim();
                            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) contentLength = long.Parse(value);
                            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.Equals("close", StringComparison.OrdinalIgnoreCase)) close = true;
                        }

                        // Skip the request body.
                        int consumed = headEnd + 4;
                        long bodyInBuffer = Math.Min(contentLength, filled - consumed);
                        consumed += (int)bodyInBuffer;
                        long remaining = contentLength - bodyInBuffer;
                        Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                        filled -= consumed;
                        while (remaining > 0)
                        {
                            int read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), _stop.Token).ConfigureAwait(false);
                            if (read == 0) return;
                            remaining -= read;
                        }

                        Interlocked.Increment(ref _requestCount);
                        if (Requests.Count < MaxRecordedRequests)
                        {
                            Requests.Enqueue(new TestHttpRequest
                            {
                                Method = requestLine[0],
                                Path = requestLine.Length > 1 ? requestLine[1] : "",
                                Head = head,
                                Time = DateTimeOffset.UtcNow,
                            });
                        }

                        byte[] body = Encoding.UTF8.GetBytes(Body);
                        string responseHead =
                            "HTTP/1.1 " + StatusCode + " " + ReasonPhrase(StatusCode) + "\r\n" +
                            "Content-Type: " + ContentType + "\r\n" +
                            "Content-Length: " + body.Length + "\r\n" +
                            (close ? "Connection: close\r\n" : "") +
                            "\r\n";
                        byte[] headBytes = Encoding.ASCII.GetBytes(responseHead);
                        byte[] response = new byte[headBytes.Length + body.Length];
                        headBytes.CopyTo(response, 0);
                        body.CopyTo(response, headBytes.Length);
                        await stream.WriteAsync(response, _stop.Token).ConfigureAwait(false);
                        if (close) return;
                    }
                }
            }
            catch (Exception)
            {
                // A test site connection that fails just closes.
            }
        }

        private static int IndexOfHeadEnd(byte[] buffer, int count)
        {
            for (int i = 0; i + 3 < count; i++)
            {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n') return i;
            }
            return -1;
        }

        private static string ReasonPhrase(int status) => status switch
        {
            200 => "OK", 201 => "Created", 204 => "No Content", 301 => "Moved Permanently", 302 => "Found",
            400 => "Bad Request", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found",
            500 => "Internal Server Error", 502 => "Bad Gateway", 503 => "Service Unavailable",
            _ => "Status",
        };
    }
}
'@
}

if (-not ('TunnelPS.Tests.TestTcpEchoServer' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace TunnelPS.Tests
{
    /// <summary>TLS settings for test clients.</summary>
    public static class TestTls
    {
        /// <summary>Accepts any server certificate (the test servers are self-signed).</summary>
        public static readonly System.Net.Security.RemoteCertificateValidationCallback AcceptAnyCertificate = (sender, certificate, chain, errors) => true;
    }

    /// <summary>A TCP echo server on 127.0.0.1: every byte received is sent back. Runs on the thread pool.</summary>
    public sealed class TestTcpEchoServer : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _acceptLoop;
        private int _connectionCount;

        public TestTcpEchoServer()
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _acceptLoop = AcceptLoopAsync();
        }

        public int Port { get; }
        public int ConnectionCount => Volatile.Read(ref _connectionCount);

        public void Stop()
        {
            if (_stop.IsCancellationRequested) return;
            _stop.Cancel();
            _listener.Stop();
            try { _acceptLoop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }

        public void Dispose() => Stop();

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception) { return; }
                Interlocked.Increment(ref _connectionCount);
                _ = EchoAsync(client);
            }
        }

        private async Task EchoAsync(TcpClient client)
        {
            try
            {
                using (client)
                {
                    client.NoDelay = true;
                    NetworkStream stream = client.GetStream();
                    byte[] buffer = new byte[16 * 1024];
                    int read;
                    while ((read = await stream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false)) > 0)
                    {
                        await stream.WriteAsync(buffer.AsMemory(0, read), _stop.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception)
            {
                // A failed echo connection just closes.
            }
        }
    }
}
'@
}

if (-not ('TunnelPS.Tests.BackgroundProcess' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;

namespace TunnelPS.Tests
{
    /// <summary>A process started by a test that keeps running; its stdout and stderr lines are collected.</summary>
    public sealed class BackgroundProcess : IDisposable
    {
        private readonly ConcurrentQueue<string> _lines = new ConcurrentQueue<string>();
        private readonly string _scriptFile;

        public BackgroundProcess(ProcessStartInfo startInfo, string scriptFile)
        {
            _scriptFile = scriptFile;
            startInfo.RedirectStandardOutput = true;
            startInfo.RedirectStandardError = true;
            startInfo.UseShellExecute = false;
            Process = new Process { StartInfo = startInfo };
            Process.OutputDataReceived += (_, e) => { if (e.Data != null) _lines.Enqueue(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data != null) _lines.Enqueue(e.Data); };
            Process.Start();
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public bool HasExited => Process.HasExited;

        /// <summary>Every line written so far.</summary>
        public string[] Lines => _lines.ToArray();

        /// <summary>Ends the process at once (SIGKILL on Linux and macOS), as a crash or kill -9 would.</summary>
        public void Kill()
        {
            if (!Process.HasExited)
            {
                Process.Kill(true);
                Process.WaitForExit(10000);
            }
        }

        public void Dispose()
        {
            Kill();
            Process.Dispose();
            try { File.Delete(_scriptFile); } catch (IOException) { }
        }
    }
}
'@
}

function Get-TunnelPSManifestPath {
    <#
    .SYNOPSIS
        The path of the built manifest, out/TunnelPS/TunnelPS.psd1.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $script:ModuleManifest
}

function Get-RepositoryRoot {
    <#
    .SYNOPSIS
        The repository root (two levels above tests/Pester).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $script:RepoRoot
}

function Import-TunnelPSModule {
    <#
    .SYNOPSIS
        Imports the built module (out/TunnelPS/TunnelPS.psd1) by path and returns it; Start-Tunnel's
        -InspectAddress defaults to 127.0.0.1:0 from then on ($PSDefaultParameterValues).
    #>
    [CmdletBinding()]
    [OutputType([psmoduleinfo])]
    param()
    if (-not (Test-Path -LiteralPath $script:ModuleManifest)) {
        throw "The module is not built: $script:ModuleManifest is missing. Run ./build.ps1 Build first."
    }
    # Every Start-Tunnel of the tests runs its session's web inspector on a free port, never on 127.0.0.1:4040 (or
    # the next free one): test runs side by side must not take each other's ports. A test of the default address
    # (or of inspect_addr) removes this default, in a fresh pwsh or for its own call.
    $global:PSDefaultParameterValues['Start-Tunnel:InspectAddress'] = '127.0.0.1:0'
    # -Global: imported from inside this module, it would otherwise nest here, out of the tests' sight.
    Import-Module -Name $script:ModuleManifest -Force -PassThru -Global -ErrorAction Stop
}

function Get-FreeTcpPort {
    <#
    .SYNOPSIS
        A TCP port on 127.0.0.1 that was free a moment ago. Prefer port 0 where the code
        under test accepts it.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param()
    $probe = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

function Start-TestHttpSite {
    <#
    .SYNOPSIS
        Starts a background HTTP/1.1 site on 127.0.0.1 (a free port, or -Port to bring a
        stopped site back on its port) that answers every request with the given status and body.
    .DESCRIPTION
        Returns a TunnelPS.Tests.TestHttpSite: Port, Url, StatusCode/Body/ContentType
        (settable while it runs), RequestCount, Requests (method, path, raw head), and
        Stop(). Always stop it (AfterAll/finally).
    #>
    [CmdletBinding()]
    param(
        [int] $StatusCode = 200,
        [string] $Body = 'Hello from the TunnelPS test site',
        [string] $ContentType = 'text/plain; charset=utf-8',
        [int] $Port = 0
    )
    [TunnelPS.Tests.TestHttpSite]::new($StatusCode, $Body, $ContentType, $Port)
}

function Wait-Until {
    <#
    .SYNOPSIS
        Polls a condition until it is true, or throws at the deadline.
    .EXAMPLE
        Wait-Until { (Get-Tunnel).Status -eq 'Online' } -Timeout 10 -Because 'the tunnel comes online'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)]
        [scriptblock] $Condition,

        # Seconds.
        [double] $Timeout = 10,

        # Milliseconds between polls.
        [int] $Interval = 50,

        [string] $Because = 'the condition'
    )
    $deadline = [System.Diagnostics.Stopwatch]::StartNew()
    $lastError = $null
    while ($true) {
        try {
            if (& $Condition) { return }
            $lastError = $null
        }
        catch {
            $lastError = $_
        }
        if ($deadline.Elapsed.TotalSeconds -ge $Timeout) {
            $detail = if ($lastError) { " Last error: $lastError" } else { '' }
            throw "Timed out after $Timeout s waiting for $Because ($Condition).$detail"
        }
        Start-Sleep -Milliseconds $Interval
    }
}

function Invoke-TestRequest {
    <#
    .SYNOPSIS
        Sends one HTTP request with HttpClient and returns StatusCode, Body and Headers;
        4xx and 5xx are results, not exceptions.
    .DESCRIPTION
        No proxy, no redirects followed. A host under .localhost (which browsers and curl
        resolve to loopback, and .NET does not everywhere) is reached on 127.0.0.1 with the
        original Host header; -HostHeader sets the Host header explicitly.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)]
        [uri] $Uri,

        [string] $Method = 'GET',

        [hashtable] $Headers = @{},

        [string] $Body,

        [string] $ContentType = 'text/plain; charset=utf-8',

        [string] $HostHeader,

        [switch] $SkipCertificateCheck,

        # Seconds.
        [double] $Timeout = 30
    )
    $target = $Uri
    if (-not $HostHeader -and $Uri.Host.EndsWith('.localhost', [StringComparison]::OrdinalIgnoreCase)) {
        $HostHeader = $Uri.Authority
        $builder = [System.UriBuilder]::new($Uri)
        $builder.Host = '127.0.0.1'
        $target = $builder.Uri
    }

    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $handler.UseProxy = $false
    $handler.AllowAutoRedirect = $false
    if ($SkipCertificateCheck) {
        # A script block callback would run on a pool thread without a runspace: use a compiled one.
        $handler.SslOptions.RemoteCertificateValidationCallback = [TunnelPS.Tests.TestTls]::AcceptAnyCertificate
    }
    $client = [System.Net.Http.HttpClient]::new($handler)
    try {
        $client.Timeout = [TimeSpan]::FromSeconds($Timeout)
        $request = [System.Net.Http.HttpRequestMessage]::new([System.Net.Http.HttpMethod]::new($Method), $target)
        if ($HostHeader) { $request.Headers.Host = $HostHeader }
        foreach ($key in $Headers.Keys) {
            $null = $request.Headers.TryAddWithoutValidation([string]$key, [string]$Headers[$key])
        }
        if ($PSBoundParameters.ContainsKey('Body')) {
            $request.Content = [System.Net.Http.StringContent]::new($Body, [System.Text.Encoding]::UTF8)
            $request.Content.Headers.ContentType = [System.Net.Http.Headers.MediaTypeHeaderValue]::Parse($ContentType)
        }
        $response = $client.SendAsync($request).GetAwaiter().GetResult()
        try {
            $responseHeaders = [System.Collections.Generic.Dictionary[string, string]]::new([StringComparer]::OrdinalIgnoreCase)
            foreach ($h in $response.Headers) { $responseHeaders[$h.Key] = $h.Value -join ', ' }
            foreach ($h in $response.Content.Headers) { $responseHeaders[$h.Key] = $h.Value -join ', ' }
            [pscustomobject]@{
                StatusCode = [int]$response.StatusCode
                Body       = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
                Headers    = $responseHeaders
            }
        }
        finally { $response.Dispose() }
    }
    finally {
        $client.Dispose()
    }
}

function Invoke-FreshPwsh {
    <#
    .SYNOPSIS
        Runs a script in a new pwsh process (the same PowerShell as this one) and returns
        its exit code and output lines.
    .DESCRIPTION
        For tests that must see a clean process: module import, load contexts, assembly
        conflicts. Standard error is merged into Output.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string] $Script,

        # Seconds.
        [double] $Timeout = 120
    )
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-test-{0}.ps1" -f [guid]::NewGuid())
    Set-Content -LiteralPath $file -Value $Script -Encoding utf8NoBOM
    try {
        # Under `dotnet pwsh` this process is the dotnet host running pwsh.dll.
        $startInfo = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            $startInfo.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
        }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $startInfo.ArgumentList.Add($a) }
        $startInfo.RedirectStandardOutput = $true
        $startInfo.RedirectStandardError = $true
        $startInfo.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($startInfo)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit([int]($Timeout * 1000))) {
            $process.Kill($true)
            throw "The fresh pwsh process did not finish within $Timeout s."
        }
        $process.WaitForExit()
        [pscustomobject]@{
            ExitCode = $process.ExitCode
            Output   = @(($stdout.Result + $stderr.Result) -split '\r?\n' | Where-Object { $_ -ne '' })
        }
    }
    finally {
        Remove-Item -LiteralPath $file -ErrorAction Ignore
    }
}

function Start-BackgroundPwsh {
    <#
    .SYNOPSIS
        Starts a script in a new pwsh process that keeps running (a TunnelPS.Tests.BackgroundProcess).
    .DESCRIPTION
        For tests that need a second, real PowerShell process: a server under a descriptor limit, a client to
        kill -9. -DescriptorLimit runs it under `ulimit -n` (Linux and macOS, through bash). The result has Process,
        HasExited, Lines (its output so far), Kill() and Dispose(); always dispose it (finally/AfterAll).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string] $Script,

        [int] $DescriptorLimit
    )
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ("tunnelps-test-{0}.ps1" -f [guid]::NewGuid())
    Set-Content -LiteralPath $file -Value $Script -Encoding utf8NoBOM
    $executable = [Environment]::ProcessPath
    $pwshArgs = @()
    if ([System.IO.Path]::GetFileNameWithoutExtension($executable) -eq 'dotnet') { $pwshArgs += (Join-Path $PSHOME 'pwsh.dll') }
    $pwshArgs += '-NoProfile', '-NonInteractive', '-File', $file
    if ($DescriptorLimit -gt 0) {
        $startInfo = [System.Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($a in @('-c', "ulimit -n $DescriptorLimit && exec `"`$@`"", 'bash', $executable) + $pwshArgs) { $startInfo.ArgumentList.Add($a) }
    }
    else {
        $startInfo = [System.Diagnostics.ProcessStartInfo]::new($executable)
        foreach ($a in $pwshArgs) { $startInfo.ArgumentList.Add($a) }
    }
    [TunnelPS.Tests.BackgroundProcess]::new($startInfo, $file)
}

function Start-TestTcpEchoServer {
    <#
    .SYNOPSIS
        Starts a background TCP echo server on 127.0.0.1 (a free port).
    .DESCRIPTION
        Returns a TunnelPS.Tests.TestTcpEchoServer: Port, ConnectionCount and Stop(). Always
        stop it (AfterAll/finally).
    #>
    [CmdletBinding()]
    param()
    [TunnelPS.Tests.TestTcpEchoServer]::new()
}

function Invoke-TcpEcho {
    <#
    .SYNOPSIS
        Connects to host:port, sends a line of text, and returns what comes back (up to the
        same length) within the timeout.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $HostName,
        [Parameter(Mandatory)] [int] $Port,
        [Parameter(Mandatory)] [string] $Text,
        # Seconds.
        [double] $Timeout = 10
    )
    $client = [System.Net.Sockets.TcpClient]::new()
    try {
        $deadline = [System.Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds($Timeout))
        $null = $client.ConnectAsync($HostName, $Port, $deadline.Token).AsTask().GetAwaiter().GetResult()
        $stream = $client.GetStream()
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Text)
        $null = $stream.WriteAsync($bytes, 0, $bytes.Length, $deadline.Token).GetAwaiter().GetResult()
        $buffer = [byte[]]::new($bytes.Length)
        $filled = 0
        while ($filled -lt $buffer.Length) {
            $read = $stream.ReadAsync($buffer, $filled, $buffer.Length - $filled, $deadline.Token).GetAwaiter().GetResult()
            if ($read -eq 0) { break }
            $filled += $read
        }
        [System.Text.Encoding]::UTF8.GetString($buffer, 0, $filled)
    }
    finally {
        $client.Dispose()
    }
}

Export-ModuleMember -Function Get-TunnelPSManifestPath, Get-RepositoryRoot, Import-TunnelPSModule, Get-FreeTcpPort,
    Start-TestHttpSite, Wait-Until, Invoke-TestRequest, Invoke-FreshPwsh, Start-BackgroundPwsh,
    Start-TestTcpEchoServer, Invoke-TcpEcho
