using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// Debian's bind9 (named) of the test's own: a temporary folder, a free loopback port (UDP and TCP), one zone it is
/// authoritative for (every name in it is 127.0.0.1), and a TSIG key (hmac-sha256) that may update the zone (RFC 2136).
/// </summary>
internal sealed class BindProcess : IAsyncDisposable
{
    private readonly string _folder;
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private BindProcess(string folder, int port, string zone, string keyName, string secret, Process process)
    {
        _folder = folder;
        Port = port;
        Zone = zone;
        KeyName = keyName;
        Secret = secret;
        _process = process;
    }

    public static string? Executable => File.Exists("/usr/sbin/named") ? "/usr/sbin/named" : PebbleProcess.FindOnPath("named");

    public int Port { get; }
    public string Zone { get; }
    public string KeyName { get; }
    public string Secret { get; }
    public string Address => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<BindProcess> StartAsync(string zone)
    {
        var folder = Directory.CreateTempSubdirectory("tunnelps-named-").FullName;
        var port = FreePort();
        const string keyName = "tunnelps-acme";
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await File.WriteAllTextAsync(Path.Combine(folder, "named.conf"), $$"""
            options {
                directory "{{folder}}";
                pid-file "{{folder}}/named.pid";
                session-keyfile "{{folder}}/session.key";
                listen-on port {{port}} { 127.0.0.1; };
                listen-on-v6 { none; };
                recursion no;
                dnssec-validation no;
                notify no;
            };
            key "{{keyName}}" { algorithm hmac-sha256; secret "{{secret}}"; };
            zone "{{zone}}" { type primary; file "{{folder}}/db.zone"; allow-update { key "{{keyName}}"; }; };
            """);
        await File.WriteAllTextAsync(Path.Combine(folder, "db.zone"), $"""
            $TTL 60
            @ IN SOA ns.{zone}. admin.{zone}. 1 60 60 600 60
            @ IN NS ns.{zone}.
            @ IN A 127.0.0.1
            ns IN A 127.0.0.1
            * IN A 127.0.0.1

            """);
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("named is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var argument in new[] { "-g", "-4", "-n", "1", "-c", Path.Combine(folder, "named.conf") })
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info)!;
        var bind = new BindProcess(folder, port, zone, keyName, secret, process);
        process.OutputDataReceived += (_, e) => bind.Append(e.Data);
        process.ErrorDataReceived += (_, e) => bind.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TunnelHarness.Deadline;
        while (!bind.Log.Contains("running", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                await bind.DisposeAsync();
                throw new InvalidOperationException("named did not start: " + bind.Log);
            }
            await Task.Delay(50);
        }
        return bind;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            if (_log.Length < 256 * 1024)
            {
                _log.AppendLine(line);
            }
        }
    }

    private static int FreePort() => PebbleProcess.FreeUdpPort();

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // Already gone.
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // named's journal still held by a dying process: left to the OS's temporary folder cleanup.
        }
    }
}
