using System.Net;

namespace TunnelPS.Engine.Server;

/// <summary>
/// At most a fixed number of holders per remote address at once; the rest wait their turn in arrival order (a NAT's
/// users share one address, so they queue rather than being refused). Waiting costs only the waiter's own task, and
/// a cancelled waiter leaves the queue.
/// </summary>
internal sealed class AddressTurns
{
    private readonly Dictionary<IPAddress, Gate> _gates = [];
    private readonly int _perAddress;
    private int _waiting;

    public AddressTurns(int perAddress)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perAddress, 1);
        _perAddress = perAddress;
    }

    /// <summary>Waiters queued behind their address's holders now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>The number of turns one address may hold at once.</summary>
    public int PerAddress => _perAddress;

    /// <summary>Takes a turn for the address, waiting for one when it holds all of its own; cancelled by the token.</summary>
    public async ValueTask EnterAsync(IPAddress address, CancellationToken token)
    {
        var key = Normalize(address);
        TaskCompletionSource turn;
        lock (_gates)
        {
            if (!_gates.TryGetValue(key, out var gate))
            {
                _gates[key] = gate = new Gate();
            }
            if (gate.Holders < _perAddress)
            {
                gate.Holders++;
                return;
            }
            turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.Waiters.Enqueue(turn);
            _waiting++;
        }
        try
        {
            await turn.Task.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_gates)
            {
                if (turn.TrySetCanceled())
                {
                    _waiting--;   // it stays queued, marked, until a leaver skips it
                }
                else
                {
                    LeaveLocked(key);   // given a turn at the moment of cancellation: pass it on rather than leak it
                }
            }
            throw;
        }
    }

    /// <summary>Gives back a turn taken with <see cref="EnterAsync"/>: the address's next waiter gets it.</summary>
    public void Leave(IPAddress address)
    {
        lock (_gates)
        {
            LeaveLocked(Normalize(address));
        }
    }

    private void LeaveLocked(IPAddress key)
    {
        if (!_gates.TryGetValue(key, out var gate))
        {
            return;
        }
        while (gate.Waiters.TryDequeue(out var next))
        {
            if (next.TrySetResult())
            {
                _waiting--;
                return;
            }
        }
        if (--gate.Holders <= 0)
        {
            _gates.Remove(key);
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private sealed class Gate
    {
        public int Holders;
        public readonly Queue<TaskCompletionSource> Waiters = new();
    }
}
