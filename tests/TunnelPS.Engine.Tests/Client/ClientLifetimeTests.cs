using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>
/// The client's own lifetime: its start deadline runs on its TimeProvider, and a final error ends it through the one
/// stop task that Stop, Dispose and Completion share.
/// </summary>
public sealed class ClientLifetimeTests
{
    [Fact]
    public async Task The_start_deadline_runs_on_the_clients_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // A server that logs the client in and never answers its tunnel request: only the deadline ends the start.
        await using var server = new ScriptedTunnelServer((_, _, _) => Task.CompletedTask);
        await using var client = new TunnelClient(Options(server.Port) with { TimeProvider = time, StartTimeout = TimeSpan.FromHours(1) });

        var start = client.StartAsync();
        await server.NextRequestAsync();
        Assert.False(start.IsCompleted);
        time.Advance(TimeSpan.FromHours(1));

        var error = await Assert.ThrowsAsync<TunnelConnectionException>(() => start.WaitAsync(TunnelHarness.Deadline));
        Assert.Equal(TunnelErrorKind.Timeout, error.Kind);
        Assert.Contains("did not open the tunnels within 3600 s", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, client.ActiveWorkCount);
    }

    [Fact]
    public async Task An_unexpected_error_while_reconnecting_fails_the_client_and_its_stop_ends_every_loop()
    {
        var logs = new ConcurrentQueue<(int Level, string Message)>();
        using var log = new CallbackLoggerFactory((level, _, message, _) => logs.Enqueue((level, message)));
        await using var server = new ScriptedTunnelServer();
        await using var client = new TunnelClient(Options(server.Port) with { LoggerFactory = log });
        var endpoint = Assert.Single(await client.StartAsync());

        client.ReconnectFaultForTest = () => new InvalidOperationException("a bug in the reconnect");
        client.AbortControlForTest();
        await client.Completion.WaitAsync(TunnelHarness.Deadline);

        Assert.Equal(TunnelStatus.Failed, client.Status);
        Assert.IsType<InvalidOperationException>(client.Error);
        Assert.Equal(TunnelStatus.Failed, endpoint.Status);
        Assert.Equal("a bug in the reconnect", endpoint.Error);
        Assert.Contains(logs, l => l.Message == "Client stopped after a final error: a bug in the reconnect");
        // Stop after the failure joins the stop the failure started: it keeps the Failed state and finds no work left.
        await client.StopAsync().WaitAsync(TunnelHarness.Deadline);
        Assert.Equal(TunnelStatus.Failed, client.Status);
        Assert.Equal(0, client.ActiveWorkCount);
        Assert.Same(client.StopAsync(), client.StopAsync());
    }

    private static TunnelClientOptions Options(int serverPort) => new()
    {
        Server = new ServerAddress("127.0.0.1", serverPort),
        Trust = new ServerTrust { SkipCertificateCheck = true },
        Tunnels = [new TunnelDefinition { Name = "life", Protocols = ["http"], Local = new LocalTarget("127.0.0.1", 1), Subdomain = "life" }],
        ReconnectMinDelay = TimeSpan.FromHours(1),
    };
}
