using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>Several nodes of a cluster in one server address: "a:443,b:443".</summary>
public sealed class ServerAddressListTests
{
    [Fact]
    public void A_list_gives_every_node_in_order_with_the_default_port_where_none_is_given()
    {
        Assert.Equal(
            [new ServerAddress("node1.example", 443), new ServerAddress("::1", 8443), new ServerAddress("node3.example", 4443)],
            ServerAddress.ParseList(" node1.example , [::1]:8443,node3.example:4443"));
        Assert.Equal([new ServerAddress("single.example", 443)], ServerAddress.ParseList("single.example"));
    }

    [Theory]
    [InlineData("a.example,,b.example", "has an empty item")]
    [InlineData("a.example,", "has an empty item")]
    [InlineData("a.example:443,b.example:99999", "In the server address list 'a.example:443,b.example:99999':")]
    public void A_bad_item_is_named(string list, string why)
    {
        var ex = Assert.Throws<TunnelConfigurationException>(() => ServerAddress.ParseList(list));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }
}
