using System.Net;
using TunnelPS.Engine.Server;
using Xunit;

namespace TunnelPS.Engine.Tests.Server;

public sealed class AddressTurnsTests
{
    private static readonly IPAddress A = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task An_address_beyond_its_share_waits_in_arrival_order_and_others_go_at_once()
    {
        var turns = new AddressTurns(2);
        await turns.EnterAsync(A, CancellationToken.None);
        await turns.EnterAsync(A, CancellationToken.None);
        var third = turns.EnterAsync(A, CancellationToken.None).AsTask();
        var fourth = turns.EnterAsync(A, CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.Equal(2, turns.Waiting);

        await turns.EnterAsync(B, CancellationToken.None);   // another address is not held up

        turns.Leave(A);
        await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(fourth.IsCompleted);
        turns.Leave(A);
        await fourth.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, turns.Waiting);
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_its_turn_goes_to_the_next()
    {
        var turns = new AddressTurns(1);
        await turns.EnterAsync(A, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = turns.EnterAsync(A, cancel.Token).AsTask();
        var next = turns.EnterAsync(A, CancellationToken.None).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, turns.Waiting);

        turns.Leave(A);
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, turns.Waiting);

        // The address's last turn given back: a new comer goes at once.
        turns.Leave(A);
        await turns.EnterAsync(A, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_IPv4_mapped_address_shares_the_turns_of_its_IPv4_form()
    {
        var turns = new AddressTurns(1);
        await turns.EnterAsync(A, CancellationToken.None);
        var mapped = turns.EnterAsync(A.MapToIPv6(), CancellationToken.None).AsTask();
        Assert.False(mapped.IsCompleted);
        turns.Leave(A);
        await mapped.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
