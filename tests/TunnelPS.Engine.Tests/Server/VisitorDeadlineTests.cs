using TunnelPS.Engine.Server;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>The deadline kinds are a type; their metric tags are what dashboards of tunnelps.server.deadline_closes match on.</summary>
public sealed class VisitorDeadlineTests
{
    [Theory]
    [InlineData(nameof(VisitorDeadline.Head), "head")]
    [InlineData(nameof(VisitorDeadline.Write), "write")]
    [InlineData(nameof(VisitorDeadline.Idle), "idle")]
    [InlineData(nameof(VisitorDeadline.ClientHello), "client_hello")]
    public void Each_deadline_keeps_its_metric_tag(string deadline, string tag) => Assert.Equal(tag, Enum.Parse<VisitorDeadline>(deadline).Tag());

    [Fact]
    public void Every_deadline_has_a_tag() =>
        Assert.All(Enum.GetValues<VisitorDeadline>(), d => Assert.False(string.IsNullOrEmpty(d.Tag())));
}
