using System.Diagnostics;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// A tinyproxy started by tests/TestSupport/start-tinyproxy.sh on 127.0.0.1; disposing kills it (by its pid) and
/// deletes its folder.
/// </summary>
internal sealed class TinyproxyProcess : IDisposable
{
    private TinyproxyProcess(int port, string logPath, int pid, string directory)
    {
        Port = port;
        LogPath = logPath;
        Pid = pid;
        Directory = directory;
    }

    public int Port { get; }

    public string LogPath { get; }

    public int Pid { get; }

    public string Directory { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public static async Task<TinyproxyProcess> StartAsync(string? user, string? password, CancellationToken cancellationToken)
    {
        var script = FindScript();
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        if (user is not null)
        {
            start.ArgumentList.Add("--user");
            start.ArgumentList.Add(user);
            start.ArgumentList.Add("--password");
            start.ArgumentList.Add(password!);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed with exit code {process.ExitCode}: {await stderr}");
        }
        var values = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
        return new TinyproxyProcess(
            int.Parse(values["PORT"], System.Globalization.CultureInfo.InvariantCulture),
            values["LOG"],
            int.Parse(values["PID"], System.Globalization.CultureInfo.InvariantCulture),
            values["DIR"]);
    }

    /// <summary>Waits until the log holds <paramref name="text"/> (tinyproxy writes it as it handles the request).</summary>
    public async Task<string> WaitForLogAsync(string text, CancellationToken cancellationToken)
    {
        while (true)
        {
            var log = await ReadLogAsync(cancellationToken);
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }
            await Task.Delay(20, cancellationToken);
        }
    }

    public async Task<string> ReadLogAsync(CancellationToken cancellationToken)
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    public void Dispose()
    {
        try
        {
            using var process = Process.GetProcessById(Pid);
            process.Kill();
            process.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public static string? FindOnPath(string name)
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static string FindScript()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, "tests", "TestSupport", "start-tinyproxy.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("tests/TestSupport/start-tinyproxy.sh was not found above " + AppContext.BaseDirectory);
    }
}
