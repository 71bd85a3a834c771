using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Cluster;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>Lease values are signed under the cluster secret: any change, another secret, or an expired value is a forgery.</summary>
public sealed class LeaseSignerTests
{
    private const string Secret = "cluster-secret-for-tests-0001";
    private static readonly ClusterLease s_lease = new("host:shop.localhost", "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "a", "0011223344556677", 1_700_000_000_000, "");

    [Fact]
    public void A_signed_value_reads_back_as_the_lease()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
        var signer = new LeaseSigner(Secret, time);
        var read = signer.Read(s_lease.Key, signer.Sign(s_lease, live: true, TimeSpan.FromMinutes(10)));
        Assert.Null(read.Forgery);
        Assert.Equal((s_lease.Tenant, s_lease.Session, s_lease.Node, s_lease.Run, true, s_lease.Since, ""), (read.Tenant, read.Session, read.Node, read.Run, read.Live, read.Since, read.Previous));
        Assert.False(signer.Read(s_lease.Key, signer.Sign(s_lease, live: false, TimeSpan.FromMinutes(10))).Live);
    }

    [Theory]
    [InlineData(0, "0123456789abcdef0123456789abcdee", "its signature does not match")] // another tenant
    [InlineData(2, "b", "its signature does not match")] // another node
    [InlineData(4, "reserved", "its signature does not match")] // another state
    [InlineData(5, "1", "its signature does not match")] // an earlier claim
    [InlineData(8, "00000000000000000000000000000000", "its signature does not match")]
    public void A_changed_field_is_a_forgery(int field, string value, string why)
    {
        var signer = new LeaseSigner(Secret, new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000)));
        var fields = signer.Sign(s_lease, live: true, TimeSpan.FromMinutes(10)).Split('|');
        fields[field] = value;
        Assert.StartsWith(why, signer.Read(s_lease.Key, string.Join('|', fields)).Forgery, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_signed_for_another_name_under_another_secret_or_in_the_old_format_is_a_forgery()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
        var signer = new LeaseSigner(Secret, time);
        var value = signer.Sign(s_lease, live: true, TimeSpan.FromMinutes(10));
        Assert.NotNull(signer.Read("host:other.localhost", value).Forgery);
        Assert.NotNull(new LeaseSigner("another-cluster-secret-000", time).Read(s_lease.Key, value).Forgery);
        Assert.Equal("it is not a signed lease of this version", signer.Read(s_lease.Key, "0123456789abcdef0123456789abcdef|fedcba9876543210fedcba9876543210|a|0011223344556677|live").Forgery);
    }

    [Fact]
    public void A_signed_value_written_again_after_its_expiry_is_a_forgery()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
        var signer = new LeaseSigner(Secret, time);
        var value = signer.Sign(s_lease, live: true, TimeSpan.FromMinutes(10));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(signer.Read(s_lease.Key, value).Forgery);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.StartsWith("its signature expired at", signer.Read(s_lease.Key, value).Forgery, StringComparison.Ordinal);
    }
}
