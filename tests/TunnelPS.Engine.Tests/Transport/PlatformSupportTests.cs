using System.Globalization;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// Each platform call's guard decides as the platform this test runs on allows (docs/platforms.md), and a call that
/// fails turns its feature off with the reason and a safe fallback.
/// </summary>
public sealed class PlatformSupportTests
{
    private static readonly bool s_unix = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Calls that fail as they would where they do not exist.</summary>
    internal static PlatformCalls Failing() => new()
    {
        DescriptorLimit = static () => throw new EntryPointNotFoundException("getrlimit"),
        OpenDescriptors = static () => throw new DirectoryNotFoundException("/proc/self/fd"),
        InlineCompletions = static () => throw new PlatformNotSupportedException("no PreferInlineCompletions"),
        UnixDomainSockets = static () => throw new PlatformNotSupportedException("no AF_UNIX"),
        SocketOwners = static () => throw new FileNotFoundException("/proc/net/tcp"),
        UnixFileModes = static () => throw new PlatformNotSupportedException("no Unix file modes"),
    };

    [Fact]
    public void Descriptor_limit_is_the_soft_RLIMIT_NOFILE_on_unix_and_absent_on_windows()
    {
        var limit = PlatformCalls.System.DescriptorLimit();
        if (OperatingSystem.IsLinux())
        {
            // Read apart from getrlimit: the kernel's own table of this process's limits.
            var line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            Assert.Equal(soft == "unlimited" ? null : long.Parse(soft, CultureInfo.InvariantCulture), limit);
        }
        else if (s_unix)
        {
            Assert.NotNull(limit);
        }
        else
        {
            Assert.Null(limit);
        }
    }

    [Fact]
    public void Open_descriptors_are_counted_on_unix_and_absent_on_windows()
    {
        var open = PlatformCalls.System.OpenDescriptors();
        if (s_unix)
        {
            Assert.NotNull(open);
            Assert.InRange(open.Value, 3, int.MaxValue); // at least stdin, stdout and stderr
        }
        else
        {
            Assert.Null(open);
        }
    }

    [Fact]
    public void Inline_completions_exist_on_the_epoll_and_kqueue_engines_only()
    {
        Assert.Equal(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), PlatformCalls.System.InlineCompletions());
    }

    [Fact]
    public void The_deferral_socket_pair_is_used_on_linux_only()
    {
        Assert.Equal(OperatingSystem.IsLinux(), PlatformCalls.System.UnixDomainSockets());
    }

    [Fact]
    public void Socket_owners_are_read_from_proc_on_linux_only()
    {
        Assert.Equal(OperatingSystem.IsLinux() && File.Exists("/proc/net/tcp"), PlatformCalls.System.SocketOwners());
    }

    [Fact]
    public void Unix_file_modes_are_used_everywhere_but_windows()
    {
        Assert.Equal(!OperatingSystem.IsWindows(), PlatformCalls.System.UnixFileModes());
    }

    [Fact]
    public void On_this_platform_the_probe_keeps_what_exists_and_sizes_connections_under_the_limit()
    {
        var support = PlatformSupport.Probe(PlatformCalls.System);

        Assert.Equal(PlatformCalls.System.DescriptorLimit(), support.DescriptorLimit);
        if (support.DescriptorLimit is { } limit)
        {
            Assert.Equal("", support.DescriptorLimitFallback);
            Assert.InRange(support.ConnectionBudget, 16, Math.Max(16, limit - Math.Max(64, limit / 8)));
        }
        else
        {
            Assert.Equal(s_unix ? DescriptorLimit.ConnectionBudget(PlatformSupport.AssumedUnixDescriptorLimit, PlatformCalls.System.OpenDescriptors()) : PlatformSupport.NoDescriptorLimitCap, support.ConnectionBudget);
        }
        Assert.Equal(PlatformCalls.System.InlineCompletions(), support.InlineCompletions);
        Assert.Equal(PlatformCalls.System.InlineCompletions() && PlatformCalls.System.UnixDomainSockets(), support.EventBatchDeferral);
        Assert.Equal(PlatformCalls.System.SocketOwners(), support.SocketOwners);
        Assert.Equal(!OperatingSystem.IsWindows(), support.UnixFileModes);
        if (OperatingSystem.IsLinux() && support.DescriptorLimit is not null)
        {
            // Linux x64 (CI) and arm64: every platform path exists, nothing is turned off.
            Assert.Empty(support.TurnedOff);
        }
    }

    [Fact]
    public void Calls_that_fail_turn_every_feature_off_with_the_reason_and_a_safe_fallback()
    {
        var support = PlatformSupport.Probe(Failing());

        Assert.Null(support.DescriptorLimit);
        Assert.False(support.InlineCompletions);
        Assert.False(support.EventBatchDeferral);
        Assert.False(support.SocketOwners);
        Assert.False(support.UnixFileModes);
        if (s_unix)
        {
            // The usual default soft limit is assumed: 1024 less a reserve of 128, nothing known to be open yet.
            Assert.Equal(896, support.ConnectionBudget);
            Assert.Contains("getrlimit", support.DescriptorLimitFallback, StringComparison.Ordinal);
            Assert.Contains("EntryPointNotFoundException", support.DescriptorLimitFallback, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(PlatformSupport.NoDescriptorLimitCap, support.ConnectionBudget);
        }
        var off = support.TurnedOff.ToDictionary(f => f.Feature, f => f.Fallback);
        Assert.Equal(["descriptor limit", "inline socket completions", "event-batch deferral", "inspector peer owner check", "private file modes"], off.Keys.ToArray());
        Assert.Contains("no PreferInlineCompletions", off["inline socket completions"], StringComparison.Ordinal);
        Assert.Contains("thread pool", off["inline socket completions"], StringComparison.Ordinal);
        Assert.Contains("needs inline socket completions", off["event-batch deferral"], StringComparison.Ordinal);
        Assert.Contains("/proc/net/tcp", off["inspector peer owner check"], StringComparison.Ordinal);
        Assert.Contains("key alone", off["inspector peer owner check"], StringComparison.Ordinal);
        Assert.Contains("ACL", off["private file modes"], StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_AF_UNIX_socket_pair_only_the_deferral_is_turned_off()
    {
        var support = PlatformSupport.Probe(new PlatformCalls
        {
            DescriptorLimit = static () => 4096,
            OpenDescriptors = static () => 100,
            InlineCompletions = static () => true,
            UnixDomainSockets = static () => false,
            SocketOwners = static () => true,
            UnixFileModes = static () => true,
        });

        Assert.True(support.InlineCompletions);
        Assert.False(support.EventBatchDeferral);
        Assert.Equal(4096 - 100 - 512, support.ConnectionBudget);
        var (feature, fallback) = Assert.Single(support.TurnedOff);
        Assert.Equal("event-batch deferral", feature);
        Assert.Contains("no AF_UNIX socket pair", fallback, StringComparison.Ordinal);
    }

    [Fact]
    public void A_platform_without_a_descriptor_limit_gets_the_fixed_cap_on_windows_and_the_assumed_limit_on_unix()
    {
        var support = PlatformSupport.Probe(new PlatformCalls { DescriptorLimit = static () => null, OpenDescriptors = static () => null });

        Assert.Equal(s_unix ? 896 : PlatformSupport.NoDescriptorLimitCap, support.ConnectionBudget);
        Assert.Contains(support.TurnedOff, f => f.Feature == "descriptor limit");
    }
}
