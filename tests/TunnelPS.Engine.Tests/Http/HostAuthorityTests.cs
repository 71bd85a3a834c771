using System.Text;
using TunnelPS.Engine.Http;

namespace TunnelPS.Engine.Tests.Http;

public sealed class HostAuthorityTests
{
    [Theory]
    [InlineData("name.localhost")]
    [InlineData("NAME.LOCALHOST:80")]
    [InlineData("a-b_c~d.example.:65535")]
    [InlineData("caf%C3%A9.example")]
    [InlineData("127.0.0.1:1")]
    [InlineData("[::1]")]
    [InlineData("[2001:db8::1]:8443")]
    [InlineData("[::ffff:127.0.0.1]")]
    public void Accepts_a_host_with_an_optional_port(string authority)
    {
        Assert.True(HostAuthority.IsValid(Encoding.Latin1.GetBytes(authority)));
        Assert.True(HostAuthority.IsValid(authority));
    }

    [Theory]
    [InlineData("")]
    [InlineData(":80")]
    [InlineData("name.localhost:")]
    [InlineData("name.localhost:0")]
    [InlineData("name.localhost:65536")]
    [InlineData("name.localhost:000080")]
    [InlineData("name.localhost:+80")]
    [InlineData("name.localhost:@evil.example")]
    [InlineData("name.localhost:80/evil.example")]
    [InlineData("name.localhost:\"><script>")]
    [InlineData("name.localhost:80 evil")]
    [InlineData("user@name.localhost")]
    [InlineData("name.localhost\\evil")]
    [InlineData("name.localhost?x")]
    [InlineData("name.localhost#x")]
    [InlineData("na me.localhost")]
    [InlineData("name%4.localhost")]
    [InlineData("name%zz.localhost")]
    [InlineData("caf\u00e9.example")]
    [InlineData("[::1")]
    [InlineData("[::1]80")]
    [InlineData("[127.0.0.1]")]
    [InlineData("[v1.future]")]
    [InlineData("[fe80::1%25eth0]")]
    [InlineData("[::1]:99999")]
    public void Refuses_anything_else(string authority)
    {
        Assert.False(HostAuthority.IsValid(Encoding.Latin1.GetBytes(authority)));
        Assert.False(HostAuthority.IsValid(authority));
    }

    [Theory]
    [InlineData("name.localhost:443", true)]
    [InlineData("[::1]:443", true)]
    [InlineData("name.localhost", false)]
    public void A_CONNECT_authority_needs_its_port(string authority, bool valid) =>
        Assert.Equal(valid, HostAuthority.IsValid(Encoding.Latin1.GetBytes(authority), requirePort: true));

    [Theory]
    [InlineData("/", "Origin")]
    [InlineData("//evil.example/x", "Origin")]
    [InlineData("*", "Asterisk")]
    [InlineData("name.localhost:443", "Authority")]
    [InlineData("http://name.localhost", "Absolute")]
    [InlineData("HTTPS://name.localhost:8443/a?b", "Absolute")]
    [InlineData("@127.0.0.2:31998/collect", "Invalid")]
    [InlineData("http://user@name.localhost/", "Invalid")]
    [InlineData("http:///path", "Invalid")]
    [InlineData("ftp://name.localhost/", "Invalid")]
    [InlineData("name.localhost", "Invalid")]
    [InlineData("**", "Invalid")]
    public void Tells_the_form_of_a_request_target(string target, string form) =>
        Assert.Equal(form, RequestTarget.Classify(target, out _, out _).ToString());

    [Fact]
    public void Checks_without_allocating()
    {
        var authority = "Name.Localhost:8080"u8.ToArray();
        var target = "http://name.localhost:8080/a?b=1"u8.ToArray();
        Assert.True(HostAuthority.IsValid(authority));
        Assert.Equal(RequestTargetForm.Absolute, RequestTarget.Classify(target, out _, out _));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            HostAuthority.IsValid(authority);
            RequestTarget.Classify(target, out _, out _);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
