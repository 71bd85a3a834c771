using System.Collections.Concurrent;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Tests.Transport;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>A server whose platform calls all fail (as on a platform without them) still starts, serves, and logs what it turned off.</summary>
public sealed class PlatformFallbackTests
{
    [Fact]
    public async Task The_server_starts_with_every_platform_call_failing_and_logs_what_it_turned_off()
    {
        var messages = new ConcurrentQueue<string>();
        using var factory = new CallbackLoggerFactory((_, _, message, _) => messages.Enqueue(message));
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync(o => o with
        {
            LoggerFactory = factory,
            InlineSocketCompletions = true,
            Platform = PlatformSupportTests.Failing(),
        });

        var off = messages.Where(m => m.StartsWith("Platform (", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, off.Count);
        Assert.Contains(off, m => m.Contains("descriptor limit is off", StringComparison.Ordinal) && m.Contains("EntryPointNotFoundException", StringComparison.Ordinal));
        Assert.Contains(off, m => m.Contains("inline socket completions is off", StringComparison.Ordinal));
        Assert.Contains(off, m => m.Contains("event-batch deferral is off", StringComparison.Ordinal));
        Assert.Contains(off, m => m.Contains("inspector peer owner check is off", StringComparison.Ordinal));
        Assert.Contains(off, m => m.Contains("private file modes is off", StringComparison.Ordinal));
        Assert.All(off, m => Assert.Contains(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(), m, StringComparison.Ordinal));

        // The fallbacks are in force: the connection cap under the assumed limit, no inline completions.
        Assert.Equal(server.Platform.ConnectionBudget, server.MaxConnections);
        Assert.False(server.Options.InlineSocketCompletions);

        // And the server serves.
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "fallback")));
        var endpoint = Assert.Single(await client.StartAsync().WaitAsync(TunnelHarness.Deadline));
        using var http = TunnelHarness.Visitor();
        Assert.Equal("hello GET /x", await http.GetStringAsync(endpoint.PublicUrl + "/x"));
    }

    [Fact]
    public async Task On_this_platform_the_server_uses_what_exists()
    {
        var messages = new ConcurrentQueue<string>();
        using var factory = new CallbackLoggerFactory((_, _, message, _) => messages.Enqueue(message));
        await using var server = await TunnelHarness.StartServerAsync(o => o with { LoggerFactory = factory, MaxConnections = 0 });

        Assert.Equal(PlatformSupport.Probe(PlatformCalls.System).InlineCompletions, server.Platform.InlineCompletions);
        Assert.InRange(server.MaxConnections, 16, server.Platform.ConnectionBudget);
        if (OperatingSystem.IsLinux() && server.Platform.DescriptorLimit is not null)
        {
            Assert.DoesNotContain(messages, m => m.StartsWith("Platform (", StringComparison.Ordinal));
        }
    }
}
