using System.Net;
using System.Net.Http;
using Microsoft.Extensions.Time.Testing;

namespace TunnelPS.Engine.Tests.Inspector;

/// <summary>
/// A refusal is logged as a warning, but a flood of them (another local user's process, a rebinding page) writes one
/// line per interval, and the next line says how many were left out.
/// </summary>
public sealed class InspectorRefusalLogTests
{
    [Fact]
    public async Task A_flood_of_refused_requests_writes_one_warning_per_interval_with_the_count_left_out()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var lines = new List<(int Level, string Message)>();
        await using var inspector = InspectorTestHost.Start(configure: o => o.WithLogCallback(
            (level, _, message, _) =>
            {
                lock (lines)
                {
                    lines.Add((level, message));
                }
            }) with { TimeProvider = time });
        var port = inspector.Server.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        for (var i = 0; i < 50; i++)
        {
            using var refused = await inspector.SendAsync(HttpMethod.Get, "/api/requests/http", mutating: false, host: "evil.example:" + port);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        time.Advance(TimeSpan.FromSeconds(11));
        using (var last = await inspector.SendAsync(HttpMethod.Get, "/api/requests/http", mutating: false, host: "evil.example:" + port))
        {
            Assert.Equal(HttpStatusCode.Forbidden, last.StatusCode);
        }

        List<string> refusals;
        lock (lines)
        {
            refusals = lines.Where(l => l.Level == 3 && l.Message.Contains("Refused GET", StringComparison.Ordinal)).Select(l => l.Message).ToList();
        }
        Assert.Equal(2, refusals.Count);
        Assert.Contains("evil.example", refusals[0], StringComparison.Ordinal);
        Assert.Contains("49 more refused", refusals[1], StringComparison.Ordinal);
    }
}
