using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;
using static TunnelPS.Arm64Check.CheckFailedException;

namespace TunnelPS.Arm64Check;

/// <summary>
/// Drives the real engine on loopback and prints one line per check and a result line:
/// "arm64 check: N passed, N failed on Arm64 (RuntimeInformation.ProcessArchitecture), 41.2 s".
/// Usage: TunnelPS.Arm64Check [--expect-architecture Arm64]. Exit code 0 only when every check passed.
/// </summary>
internal static class Program
{
    // Generous: under qemu-user every instruction is translated, and the JIT's first pass is slow.
    private static readonly TimeSpan CheckDeadline = TimeSpan.FromSeconds(120);

    public static async Task<int> Main(string[] args)
    {
        Architecture? expected = null;
        if (args.Length == 2 && args[0] == "--expect-architecture" && Enum.TryParse<Architecture>(args[1], ignoreCase: true, out var parsed))
        {
            expected = parsed;
        }
        else if (args.Length != 0)
        {
            Console.Error.WriteLine("Usage: TunnelPS.Arm64Check [--expect-architecture Arm64|X64|...]");
            return 2;
        }
        var started = Stopwatch.GetTimestamp();
        var architecture = RuntimeInformation.ProcessArchitecture;
        Console.WriteLine($"TunnelPS arm64 check: {RuntimeInformation.OSDescription}, {architecture}, {RuntimeInformation.FrameworkDescription}, {Environment.ProcessorCount} cores");
        var run = new CheckRun(CheckDeadline);
        var certificates = Directory.CreateTempSubdirectory("tunnelps-arm64-").FullName;
        await using var local = new LocalResponder();
        TunnelServer? server = null;
        TunnelClient? client = null;
        TunnelEndpoint? http = null;
        TunnelEndpoint? tcp = null;
        CaptureStore? capture = null;
        var definition = new TunnelDefinition { Name = "web", Subdomain = "arm", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", local.Port) };
        var raw = new TunnelDefinition { Name = "raw", Protocols = ["tcp"], Local = new LocalTarget("127.0.0.1", local.Port) };
        try
        {
            await run.RunAsync($"the process runs as {expected?.ToString() ?? "any architecture"} (RuntimeInformation.ProcessArchitecture: {architecture})", _ =>
            {
                Require(expected is null || architecture == expected, $"expected {expected}, the process runs as {architecture}");
                return Task.CompletedTask;
            }, needsEarlier: false, neededLater: false);

            await run.RunAsync("a server starts on loopback with certificates from a new local CA (keys mode 600)", async token =>
            {
                server = await TunnelServer.StartAsync(new TunnelServerOptions
                {
                    Domain = "localhost",
                    Port = 0,
                    HttpPort = 0,
                    BindAddress = IPAddress.Loopback,
                    CertificateFolder = certificates,
                }, token).ConfigureAwait(false);
                Require(server.CertificateThumbprint.Length == 64, "the server shows no SHA-256 thumbprint");
                Require(server.CertificateAuthority is not null, "the server's certificate does not come from the local CA");
                if (!OperatingSystem.IsWindows())
                {
                    var keys = Directory.GetFiles(certificates, "*.pfx");
                    Require(keys.Length >= 2, $"the local CA wrote {keys.Length} key file(s) to {certificates}");
                    foreach (var key in keys)
                    {
                        Require(File.GetUnixFileMode(key) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{Path.GetFileName(key)} has mode {File.GetUnixFileMode(key)}, not 600");
                    }
                }
            }, needsEarlier: false);

            await run.RunAsync("every platform path the server uses exists here (docs/platforms.md)", _ =>
            {
                var platform = server!.Platform;
                Console.WriteLine($"    descriptor limit {platform.DescriptorLimit?.ToString(CultureInfo.InvariantCulture) ?? "none"}, connection budget {platform.ConnectionBudget}, inline completions {platform.InlineCompletions}, event-batch deferral {platform.EventBatchDeferral}, socket owners {platform.SocketOwners}, Unix file modes {platform.UnixFileModes}");
                Require(platform.TurnedOff.Count == 0, "turned off: " + string.Join("; ", platform.TurnedOff.Select(f => f.Feature + ": " + f.Fallback)));
                if (InlineCompletions.IsWorthwhile)
                {
                    Require(EventBatchDeferral.Shared is not null, "the event-batch deferral's AF_UNIX socket pair could not be made");
                }
                return Task.CompletedTask;
            }, neededLater: false);

            await run.RunAsync("a client with a wrong pin is refused", async token =>
            {
                var wrong = new string('0', 64);
                await using var refused = new TunnelClient(ClientOptions(server!, wrong, definition));
                try
                {
                    await refused.StartAsync(token).ConfigureAwait(false);
                }
                catch (TunnelConnectionException ex) when (ex.Message.Contains(wrong[..8], StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("thumbprint", StringComparison.OrdinalIgnoreCase))
                {
                    return;
                }
                throw new CheckFailedException("a client pinned to the wrong thumbprint logged in");
            });

            await run.RunAsync("a client pinned to the server's SHA-256 thumbprint opens an http and a tcp tunnel", async token =>
            {
                client = new TunnelClient(ClientOptions(server!, server!.CertificateThumbprint, definition, raw));
                var endpoints = await client.StartAsync(token).ConfigureAwait(false);
                http = endpoints.Single(e => e.Protocol == "http");
                tcp = endpoints.Single(e => e.Protocol == "tcp");
                capture = client.CaptureFor(definition) ?? throw new CheckFailedException("the http tunnel has no capture");
            });

            await run.RunAsync("requests through the http tunnel are answered (keep-alive GETs and a POST)", async token =>
            {
                using var visitor = Visitor();
                for (var i = 0; i < 5; i++)
                {
                    var text = await visitor.GetStringAsync(new Uri(http!.PublicUrl + "/get/" + i.ToString(CultureInfo.InvariantCulture)), token).ConfigureAwait(false);
                    Require(text == LocalResponder.AnswerTo("GET", "/get/" + i.ToString(CultureInfo.InvariantCulture), 0), $"GET /get/{i} answered '{text}'");
                }
                using var body = new StringContent("{\"arch\":\"" + architecture + "\"}", Encoding.UTF8, "application/json");
                using var response = await visitor.PostAsync(new Uri(http!.PublicUrl + "/post"), body, token).ConfigureAwait(false);
                var answer = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
                Require(response.StatusCode == HttpStatusCode.OK && answer.StartsWith("hello POST /post ", StringComparison.Ordinal), $"POST answered {(int)response.StatusCode} '{answer}'");
            });

            await run.RunAsync("a request through the tcp tunnel's public port is answered", async token =>
            {
                var port = new Uri(tcp!.PublicUrl).Port;
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token).ConfigureAwait(false);
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                await stream.WriteAsync("GET /raw HTTP/1.1\r\nHost: raw\r\nConnection: close\r\n\r\n"u8.ToArray(), token).ConfigureAwait(false);
                using var reader = new StreamReader(stream, Encoding.ASCII);
                var text = await reader.ReadToEndAsync(token).ConfigureAwait(false);
                Require(text.StartsWith("HTTP/1.1 200 OK", StringComparison.Ordinal) && text.EndsWith(LocalResponder.AnswerTo("GET", "/raw", 0), StringComparison.Ordinal), $"the tcp tunnel answered '{text}'");
            });

            await run.RunAsync("the capture holds the http tunnel's exchanges with status and bodies", async token =>
            {
                while (capture!.Snapshot().Count < 6)
                {
                    await Task.Delay(20, token).ConfigureAwait(false);
                }
                var exchanges = capture.Snapshot();
                var post = exchanges.Single(e => e.Method == "POST");
                Require(post.Status == 200 && post.Target == "/post", $"the POST was captured as {post.Status} {post.Target}");
                Require(Encoding.UTF8.GetString(post.RequestBody.Span).Contains(architecture.ToString(), StringComparison.Ordinal), "the POST's captured request body differs from the one sent");
                Require(Encoding.UTF8.GetString(post.ResponseBody.Span).StartsWith("hello POST /post ", StringComparison.Ordinal), "the POST's captured response body differs from the answer");
            });

            await run.RunAsync("a captured request is replayed to the local service", async token =>
            {
                var original = capture!.Snapshot().Single(e => e.Method == "POST");
                var before = local.Answered;
                var replay = await new ExchangeReplayer().ReplayAsync(original, new Uri("http://127.0.0.1:" + local.Port.ToString(CultureInfo.InvariantCulture)), capture, null, token).ConfigureAwait(false);
                Require(replay.IsReplay && replay.ReplayOf == original.Id, "the replay is not marked as a replay of the original");
                Require(replay.Status == 200 && Encoding.UTF8.GetString(replay.ResponseBody.Span) == Encoding.UTF8.GetString(original.ResponseBody.Span), $"the replay answered {replay.Status} '{Encoding.UTF8.GetString(replay.ResponseBody.Span)}'");
                Require(local.Answered == before + 1, "the local service did not see the replayed request");
            });
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
            Directory.Delete(certificates, recursive: true);
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        Console.WriteLine($"arm64 check: {run.Passed} passed, {run.Failed} failed on {architecture} (RuntimeInformation.ProcessArchitecture), {seconds} s");
        return run.Failed == 0 && run.Passed > 0 ? 0 : 1;
    }

    private static TunnelClientOptions ClientOptions(TunnelServer server, string pin, params TunnelDefinition[] tunnels) => new()
    {
        Server = new ServerAddress("127.0.0.1", server.Port),
        Trust = new ServerTrust { PinnedThumbprint = pin },
        Tunnels = tunnels,
        ConnectTimeout = CheckDeadline,
        StartTimeout = CheckDeadline,
    };

    /// <summary>An HttpClient that sends every request to 127.0.0.1 on the port of its URL, keeping the URL's Host.</summary>
    private static HttpClient Visitor() => new(new SocketsHttpHandler
    {
        ConnectCallback = static async (context, token) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        UseProxy = false,
    })
    { Timeout = CheckDeadline };
}
