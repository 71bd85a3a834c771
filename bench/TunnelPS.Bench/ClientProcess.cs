using System.Diagnostics;
using System.Globalization;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Bench;

/// <summary>
/// The tunnel client alone in a child process, so its memory can be measured apart from the server and the load
/// generator. The parent talks to it over standard input and output: "MEM" asks for its memory, "EXIT" ends it.
/// </summary>
internal static class ClientProcess
{
    public const string Flag = "--client-only";

    /// <summary>Runs the child: args are the flag, the server port, its thumbprint and the local service port.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var serverPort = int.Parse(args[1], CultureInfo.InvariantCulture);
        var definition = new TunnelDefinition
        {
            Name = "bench-remote",
            Protocols = ["http"],
            Local = new LocalTarget("127.0.0.1", int.Parse(args[3], CultureInfo.InvariantCulture)),
            Subdomain = "bench-remote",
        };
        await using var client = new TunnelClient(new TunnelClientOptions
        {
            Server = new ServerAddress("127.0.0.1", serverPort),
            Trust = new ServerTrust { PinnedThumbprint = args[2] },
            Tunnels = [definition],
        });
        var endpoint = (await client.StartAsync()).Single();
        var store = client.CaptureFor(definition)!;
        Console.WriteLine("READY " + new Uri(endpoint.PublicUrl).Authority);
        while (Console.ReadLine() is { } line && line != "EXIT")
        {
            var heap = GC.GetTotalMemory(forceFullCollection: true);
            using var self = Process.GetCurrentProcess();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MEM {heap} {self.WorkingSet64} {store.Count} {store.LastId}"));
        }
        return 0;
    }

    /// <summary>The parent's side: starts the child and reads its answers.</summary>
    public sealed class Handle : IDisposable
    {
        private readonly Process _process;

        private Handle(Process process, string host)
        {
            _process = process;
            Host = host;
        }

        public string Host { get; }

        public static async Task<Handle> StartAsync(int serverPort, string thumbprint, int localPort)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            {
                start.ArgumentList.Add(typeof(ClientProcess).Assembly.Location);
            }
            foreach (var argument in new[] { Flag, serverPort.ToString(CultureInfo.InvariantCulture), thumbprint, localPort.ToString(CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(argument);
            }
            var process = Process.Start(start)!;
            var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            if (ready is null || !ready.StartsWith("READY ", StringComparison.Ordinal))
            {
                process.Kill();
                throw new InvalidOperationException("The client process did not start: " + ready);
            }
            return new Handle(process, ready[6..]);
        }

        /// <summary>The child's managed heap after a full collection, its working set, and the exchanges it holds.</summary>
        public async Task<(long Heap, long WorkingSet, int Kept, long LastId)> MemoryAsync()
        {
            await _process.StandardInput.WriteLineAsync("MEM");
            await _process.StandardInput.FlushAsync();
            var parts = (await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Split(' ');
            return (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture),
                int.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[4], CultureInfo.InvariantCulture));
        }

        public void Dispose()
        {
            try
            {
                _process.StandardInput.WriteLine("EXIT");
                if (!_process.WaitForExit(10_000))
                {
                    _process.Kill();
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }
}
