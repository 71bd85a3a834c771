using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Tests.Support;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>
/// Inline socket completions: the runtime's hook is there where we ship, the start line says what is on and why, the
/// switches turn it off, and nothing synchronous runs on the socket event thread (real loopback sockets).
/// </summary>
public sealed class InlineCompletionsTests
{
    [Fact]
    public void The_runtime_we_ship_for_has_the_hook_it_sets_by_reflection()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(InlineCompletions.IsSupported && OperatingSystem.IsWindows(), "Windows has no socket event thread");
            return;
        }
        // SafeSocketHandle.PreferInlineCompletions (internal, settable bool): if the runtime renames it or makes it
        // read-only, this fails here instead of the feature going off silently.
        Assert.True(InlineCompletions.IsSupported, InlineCompletions.UnsupportedReason);
        Assert.Equal("", InlineCompletions.UnsupportedReason);
    }

    [InlineFact]
    public async Task Enabling_a_socket_sets_the_runtime_property_on_its_handle()
    {
        var (a, b) = await LoopbackSocketPair.OpenAsync();
        using var _ = a;
        using var __ = b;
        var property = typeof(SafeSocketHandle).GetProperty(InlineCompletions.RuntimeProperty, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        Assert.False((bool)property.GetValue(a.SafeHandle)!, "a socket completes through the thread pool by default (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS is not set in tests)");
        Assert.Equal(!InlineCompletions.IsDisabledByEnvironment, InlineCompletions.TryEnable(a));
        Assert.Equal(!InlineCompletions.IsDisabledByEnvironment, (bool)property.GetValue(a.SafeHandle)!);
    }

    [Theory]
    [InlineData("0", false, false)]
    [InlineData("off", false, false)]
    [InlineData(" FALSE ", false, false)]
    [InlineData("no", false, false)]
    [InlineData("1", true, false)]
    [InlineData("On", true, false)]
    [InlineData("yes", true, false)]
    [InlineData("", null, false)]
    [InlineData(null, null, false)]
    [InlineData("maybe", null, true)]
    public void The_environment_switch_reads_the_usual_spellings(string? value, bool? expected, bool invalid)
    {
        Assert.Equal(expected, InlineCompletions.ParseSwitch(value, out var wasInvalid));
        Assert.Equal(invalid, wasInvalid);
    }

    [Fact]
    public void The_start_line_says_they_are_on_and_how_to_turn_them_off()
    {
        var line = InlineCompletions.Describe(requested: true, supported: true, problem: "", environment: null, processors: 2, out var unexpected);
        Assert.False(unexpected);
        Assert.StartsWith("Inline socket completions are on (2 cores, at most 4)", line, StringComparison.Ordinal);
        Assert.Contains("SafeSocketHandle.PreferInlineCompletions", line, StringComparison.Ordinal);
        Assert.Contains("TUNNELPS_INLINE_COMPLETIONS=0 or -NoInlineCompletions", line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_environment_variable_turns_them_off_whatever_the_option_says()
    {
        var line = InlineCompletions.Describe(requested: true, supported: true, problem: "", environment: "0", processors: 2, out var unexpected);
        Assert.False(unexpected);
        Assert.Equal("Inline socket completions are off: TUNNELPS_INLINE_COMPLETIONS=0 turns them off for the whole process.", line);
    }

    [Fact]
    public void The_option_off_and_many_cores_are_told_apart()
    {
        Assert.Equal(
            "Inline socket completions are off: turned off (-NoInlineCompletions, inline_completions: false, or the option InlineSocketCompletions).",
            InlineCompletions.Describe(requested: false, supported: true, problem: "", environment: null, processors: 2, out _));
        Assert.Equal(
            "Inline socket completions are off: off by default on 16 cores (more than 4; TUNNELPS_INLINE_COMPLETIONS=1 turns them on).",
            InlineCompletions.Describe(requested: false, supported: true, problem: "", environment: null, processors: 16, out _));
        Assert.StartsWith(
            "Inline socket completions are on (TUNNELPS_INLINE_COMPLETIONS=1)",
            InlineCompletions.Describe(requested: true, supported: true, problem: "", environment: "1", processors: 16, out _), StringComparison.Ordinal);
        Assert.Contains(
            "(TUNNELPS_INLINE_COMPLETIONS='maybe' is ignored: use 0 or 1)",
            InlineCompletions.Describe(requested: true, supported: true, problem: "", environment: "maybe", processors: 2, out _), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_hook_where_it_was_expected_is_a_warning()
    {
        var line = InlineCompletions.Describe(requested: true, supported: false, problem: "the runtime has no settable bool property SafeSocketHandle.PreferInlineCompletions.", environment: null, processors: 2, out var unexpected);
        Assert.Equal(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), unexpected);
        Assert.Equal("Inline socket completions are off: the runtime has no settable bool property SafeSocketHandle.PreferInlineCompletions.", line);
    }

    [Fact]
    public async Task A_server_logs_the_state_of_inline_completions_when_it_starts()
    {
        var log = new ConcurrentQueue<(LogLevel Level, string Message)>();
        var factory = new CallbackLoggerFactory((level, _, message, _) => log.Enqueue(((LogLevel)level, message)));
        await using (var server = await TunnelHarness.StartServerAsync(o => o with { LoggerFactory = factory, InlineSocketCompletions = false }))
        {
            Assert.Contains(log, e => e.Level == LogLevel.Information && e.Message.StartsWith("Inline socket completions are off: ", StringComparison.Ordinal));
        }
        log.Clear();
        await using (var server = await TunnelHarness.StartServerAsync(o => o with { LoggerFactory = factory, InlineSocketCompletions = true }))
        {
            var expected = InlineCompletions.IsSupported && !InlineCompletions.IsDisabledByEnvironment ? "Inline socket completions are on (" : "Inline socket completions are off: ";
            Assert.Contains(log, e => e.Message.StartsWith(expected, StringComparison.Ordinal));
        }
    }

    [InlineFact]
    public async Task A_synchronous_read_or_write_of_a_link_stream_refuses_to_run_on_the_socket_event_thread()
    {
        await using var link = new MuxLink(Stream.Null);
        using var stream = new MuxStream(link, 1, MuxLink.DefaultWindow);
        var (read, write) = await OnEventThreadAsync(() => Capture(() => _ = stream.Read(new byte[1], 0, 1)), () => Capture(() => stream.Write(new byte[1], 0, 1)));
        Assert.IsType<InvalidOperationException>(read);
        Assert.Contains("MuxStream.Read is synchronous and would block the runtime's socket event thread", read.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(write);
        Assert.Contains("MuxStream.Write", write.Message, StringComparison.Ordinal);
    }

    [InlineFact]
    public async Task A_batching_socket_stream_refuses_synchronous_writes_on_the_socket_event_thread_and_takes_them_elsewhere()
    {
        var (socket, peer) = await LoopbackSocketPair.OpenAsync();
        using var _ = peer;
        await using var stream = new BatchingNetworkStream(socket);
        stream.EnableBatching();
        var (write, flush) = await OnEventThreadAsync(() => Capture(() => stream.Write(new byte[] { 1 }, 0, 1)), () => Capture(stream.Flush));
        Assert.Contains("BatchingNetworkStream.Write is synchronous", Assert.IsType<InvalidOperationException>(write).Message, StringComparison.Ordinal);
        Assert.Contains("BatchingNetworkStream.Flush is synchronous", Assert.IsType<InvalidOperationException>(flush).Message, StringComparison.Ordinal);
        // Off the event thread the same calls work as before (Task.Run: this method may resume on the event thread).
        await Task.Run(() =>
        {
            stream.Write(new byte[] { 7 }, 0, 1);
            stream.Flush();
        });
        var got = new byte[1];
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        Assert.Equal(1, await peer.ReceiveAsync(got.AsMemory(), SocketFlags.None, deadline.Token));
        Assert.Equal(7, got[0]);
    }

    private static Exception Capture(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            return ex;
        }
        return new InvalidOperationException("no exception: the call ran on the socket event thread");
    }

    /// <summary>Runs both functions where an inline receive completes: on the runtime's socket event thread.</summary>
    private static async Task<(Exception First, Exception Second)> OnEventThreadAsync(Func<Exception> first, Func<Exception> second)
    {
        var (sender, receiver) = await LoopbackSocketPair.OpenAsync();
        using var senderSocket = sender;
        using var receiverSocket = receiver;
        Assert.True(InlineCompletions.TryEnable(receiver));
        string? thread = null;
        async Task<(Exception, Exception)> HandlerAsync()
        {
            // ConfigureAwait(false): the continuation runs where the completion runs (the event thread).
            await receiver.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).ConfigureAwait(false);
            thread = Thread.CurrentThread.Name;
            return (first(), second());
        }
        var handler = HandlerAsync();
        await sender.SendAsync(new byte[] { 1 }, SocketFlags.None);
        using var deadline = new CancellationTokenSource(TunnelHarness.Deadline);
        var result = await handler.WaitAsync(deadline.Token);
        Assert.Equal(InlineCompletions.EventThreadName, thread);
        return result;
    }
}

/// <summary>A fact that needs the runtime's inline completions (Linux or macOS, not turned off by TUNNELPS_INLINE_COMPLETIONS=0).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class InlineFactAttribute : FactAttribute
{
    public InlineFactAttribute()
    {
        if (!InlineCompletions.IsSupported || InlineCompletions.IsDisabledByEnvironment)
        {
            Skip = "Needs the runtime's inline socket completions (Linux or macOS, TUNNELPS_INLINE_COMPLETIONS not 0): " + (InlineCompletions.IsSupported ? "turned off by the environment" : InlineCompletions.UnsupportedReason);
        }
    }
}
