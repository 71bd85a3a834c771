using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

/// <summary>The TunnelPS meter's counters, read with MetricCollector while no other test runs.</summary>
[Collection(ProcessWideMeasurementCollection.Name)]
public sealed class MetricsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Each_visitor_is_counted_once_and_proxy_connections_only_on_the_pool_path(bool multiplexed)
    {
        using var proxies = new MetricCollector<long>(null, "TunnelPS", "tunnelps.client.proxy_connections");
        using var visitors = new MetricCollector<long>(null, "TunnelPS", "tunnelps.server.public_connections");

        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "metered")) with { UseMultiplexing = multiplexed });
        var endpoint = Assert.Single(await client.StartAsync());
        using (var http = TunnelHarness.Visitor(keepAlive: false))
        {
            for (var i = 0; i < 3; i++)
            {
                await http.GetStringAsync($"{endpoint.PublicUrl}/{i}");
            }
        }

        await TunnelHarness.WaitUntilAsync(() => Sum(visitors) == 3, $"three visitor connections are counted (counted {Sum(visitors)})");
        if (multiplexed)
        {
            Assert.Equal(0, Sum(proxies));
        }
        else
        {
            Assert.Equal(client.ProxyDialCount, Sum(proxies));
            Assert.True(Sum(proxies) > 0, "the pool path dials proxy connections");
        }
    }

    private static long Sum(MetricCollector<long> collector) => collector.GetMeasurementSnapshot().Sum(m => m.Value);
}
