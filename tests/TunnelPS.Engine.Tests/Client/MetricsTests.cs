using System.Diagnostics.Metrics;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Client;

public sealed class MetricsTests
{
    [Fact]
    public async Task Proxy_connections_and_public_connections_are_counted_on_the_TunnelPS_meter()
    {
        long proxies = 0, visitors = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "TunnelPS")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "tunnelps.client.proxy_connections")
            {
                Interlocked.Add(ref proxies, value);
            }
            else if (instrument.Name == "tunnelps.server.public_connections")
            {
                Interlocked.Add(ref visitors, value);
            }
        });
        listener.Start();

        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        // The pool path: a client on multiplexed links dials no proxy connections.
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "metered")) with { UseMultiplexing = false });
        var endpoint = Assert.Single(await client.StartAsync());
        using var http = TunnelHarness.Visitor();
        await http.GetStringAsync(endpoint.PublicUrl + "/");

        await TunnelHarness.WaitUntilAsync(() => Interlocked.Read(ref proxies) > 0 && Interlocked.Read(ref visitors) > 0, "the counters move");
    }
}
