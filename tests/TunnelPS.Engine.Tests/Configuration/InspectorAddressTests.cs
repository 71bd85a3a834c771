using System.Net;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

public sealed class InspectorAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:4040", "127.0.0.1", 4040)]
    [InlineData("localhost:4041", "127.0.0.1", 4041)]
    [InlineData("4042", "127.0.0.1", 4042)]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("[::1]:4040", "::1", 4040)]
    [InlineData("0.0.0.0:4040", "0.0.0.0", 4040)]
    [InlineData(" 10.1.2.3:80 ", "10.1.2.3", 80)]
    public void Parses_the_accepted_forms(string text, string address, int port)
    {
        var parsed = InspectorAddress.Parse(text);
        Assert.Equal(new InspectorAddress(IPAddress.Parse(address), port), parsed);
    }

    [Theory]
    [InlineData("disabled")]
    [InlineData("DISABLED")]
    public void Disabled_is_no_address(string text) => Assert.Null(InspectorAddress.Parse(text));

    [Theory]
    [InlineData("", "no port")]
    [InlineData("localhost", "no port")]
    [InlineData("127.0.0.1", "no port")]
    [InlineData("127.0.0.1:70000", "0-65535")]
    [InlineData("70000", "0-65535")]
    [InlineData("example.com:4040", "IP address or localhost")]
    [InlineData("::1:4040", "IP address or localhost")]
    [InlineData("[127.0.0.1]:4040", "IPv6")]
    public void Refuses_other_text_and_says_what_to_write(string text, string reason)
    {
        var ex = Assert.Throws<TunnelConfigurationException>(() => InspectorAddress.Parse(text));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:4040", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Formats_as_host_and_port()
    {
        Assert.Equal("127.0.0.1:4040", InspectorAddress.Default.ToString());
        Assert.Equal("[::1]:4040", new InspectorAddress(IPAddress.IPv6Loopback, 4040).ToString());
    }
}
