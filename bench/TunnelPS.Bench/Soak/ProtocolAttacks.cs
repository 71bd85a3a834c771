using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using TunnelPS.Engine.Protocol;

namespace TunnelPS.Bench.Soak;

/// <summary>
/// Attacks on the tunnel protocol, each at a bounded rate from the attackers' own source addresses: proxy connections
/// nobody asked for (RegProxy with a live session's id and no or a wrong key, or a made-up id), logins with wrong
/// tokens (and a wrong protocol version), and an ngrok-1.x-style session (no proxy key) whose own address offers proxy
/// connections the server did not request, and another address offers them too.
/// </summary>
internal sealed class ProtocolAttacks(SoakContext context)
{
    public const string RegProxy = "attack: unrequested RegProxy";
    public const string WrongToken = "attack: login with a wrong token";
    public const string Ngrok = "attack: ngrok-style session, unrequested RegProxy";

    private static readonly TimeSpan s_refusalWait = TimeSpan.FromSeconds(5);

    private Outcomes Outcomes => context.Outcomes;

    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        context.RepeatAsync(RegProxy, TimeSpan.FromMilliseconds(250), UnrequestedProxyAsync, stop),
        context.RepeatAsync(WrongToken, TimeSpan.FromMilliseconds(500), WrongTokenAsync, stop),
        context.RepeatAsync(Ngrok, TimeSpan.FromSeconds(1), NgrokSessionAsync, stop));

    private async Task<SslStream> DialAsync(IPAddress source, CancellationToken token)
    {
        var socket = await Loopback.ConnectAsync(source, context.Endpoints.TlsPort, token);
        return await Loopback.TlsAsync(socket, "localhost", context.Endpoints.Thumbprint, token);
    }

    private async Task UnrequestedProxyAsync(CancellationToken stop)
    {
        var live = context.LiveClientIds.Keys.ToArray();
        var pick = Random.Shared.Next(10);
        var (id, key, what) = pick switch
        {
            < 4 => (context.ClientChildId, (string?)null, "the client child's id, no key"),
            < 6 => (context.ClientChildId, RandomHex(32), "the client child's id, a wrong key"),
            < 8 when live.Length > 0 => (live[Random.Shared.Next(live.Length)], RandomHex(32), "a churn client's id, a wrong key"),
            _ => (RandomHex(16), (string?)null, "a made-up id"),
        };
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
        await using var ssl = await DialAsync(context.NextSource(SoakContext.ProtocolAttackBlock), deadline.Token);
        await FrameCodec.WriteAsync(ssl, new RegProxy { ClientId = id, ProxyKey = key }, deadline.Token);
        Outcomes.Add(RegProxy, await RefusedAsync(ssl, stop) + " (" + what + ")");
    }

    /// <summary>"expected: closed by the server" when the server closes the connection within 5 s without a frame.</summary>
    private static async Task<string> RefusedAsync(SslStream ssl, CancellationToken stop)
    {
        using var wait = Loopback.Deadline(stop, s_refusalWait);
        try
        {
            var frame = await FrameCodec.ReadAsync(ssl, wait.Token);
            return frame is null ? "expected: closed by the server" : "UNEXPECTED: the server sent " + frame.Type;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return "UNEXPECTED: still open after 5 s (taken into a pool)";
        }
        catch (IOException)
        {
            return "expected: closed by the server";
        }
    }

    private async Task WrongTokenAsync(CancellationToken stop)
    {
        var pick = Random.Shared.Next(10);
        var auth = pick switch
        {
            0 => new Auth { User = "", Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability] },
            1 => new Auth { User = context.AlphaToken, Version = "1" },
            _ => new Auth { User = RandomHex(20), Capabilities = [ProtocolVersion.TunnelPSCapability, ProtocolVersion.ProxyKeyCapability] },
        };
        var what = pick switch { 0 => "empty token", 1 => "right token, wrong protocol version", _ => "wrong token" };
        using var deadline = Loopback.Deadline(stop, TimeSpan.FromSeconds(30));
        await using var ssl = await DialAsync(context.NextSource(SoakContext.ProtocolAttackBlock), deadline.Token);
        await FrameCodec.WriteAsync(ssl, auth, deadline.Token);
        var answer = await FrameCodec.ReadAsync(ssl, deadline.Token);
        if (answer is AuthResp { Error.Length: > 0 })
        {
            var closed = await RefusedAsync(ssl, stop);
            Outcomes.Add(WrongToken, closed.StartsWith("expected", StringComparison.Ordinal) ? "expected: refused and closed (" + what + ")" : closed + " (" + what + ")");
        }
        else
        {
            Outcomes.Add(WrongToken, "UNEXPECTED: " + (answer?.Type ?? "no answer") + " (" + what + ")");
        }
    }

    /// <summary>
    /// One ngrok-1.x-style session (no proxy-key capability) for about a minute: it answers the server's ReqProxy from
    /// its own address as a real client would, pings, and every two seconds of quiet (no ReqProxy for 3 s, so no ticket
    /// is outstanding) offers an unrequested proxy connection from its own address and one from another address.
    /// </summary>
    private async Task NgrokSessionAsync(CancellationToken stop)
    {
        var home = context.NextSource(SoakContext.ProtocolAttackBlock);
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stop);
        session.CancelAfter(context.Options.Quick ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(60));
        var token = session.Token;
        await using var control = await DialAsync(home, token);
        await FrameCodec.WriteAsync(control, new Auth { User = context.BetaToken, OS = "linux", Arch = "amd64" }, token);
        if (await FrameCodec.ReadAsync(control, token) is not AuthResp { Error: "" } resp)
        {
            Outcomes.Add(Ngrok, "error: login refused");
            return;
        }
        var pooled = new ConcurrentDictionary<SslStream, byte>();
        var lastAsked = Stopwatch.GetTimestamp();
        var receive = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested && await FrameCodec.ReadAsync(control, token) is { } message)
            {
                if (message is ReqProxy)
                {
                    Interlocked.Exchange(ref lastAsked, Stopwatch.GetTimestamp());
                    var proxy = await DialAsync(home, token);
                    await FrameCodec.WriteAsync(proxy, new RegProxy { ClientId = resp.ClientId }, token);
                    pooled[proxy] = 0;
                    Outcomes.Add(Ngrok, "requested proxy connections answered");
                }
            }
        }, token);
        try
        {
            for (var tick = 0; !token.IsCancellationRequested && !receive.IsCompleted; tick++)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), token);
                if (tick % 5 == 0)
                {
                    // Only this loop writes on the control connection; the receive loop only reads it.
                    await FrameCodec.WriteAsync(control, new Ping(), token);
                }
                if (Stopwatch.GetElapsedTime(Interlocked.Read(ref lastAsked)) < TimeSpan.FromSeconds(3))
                {
                    continue;
                }
                foreach (var (source, what) in new[] { (home, "from the session's address"), (context.NextSource(SoakContext.ProtocolAttackBlock), "from another address") })
                {
                    await using var intruder = await DialAsync(source, token);
                    await FrameCodec.WriteAsync(intruder, new RegProxy { ClientId = resp.ClientId }, token);
                    var verdict = await RefusedAsync(intruder, token);
                    if (verdict.StartsWith("UNEXPECTED", StringComparison.Ordinal) && Stopwatch.GetElapsedTime(Interlocked.Read(ref lastAsked)) < TimeSpan.FromSeconds(6))
                    {
                        // A ReqProxy arrived meanwhile: the connection may have redeemed that ticket, as a real one would.
                        verdict = "not counted: a ReqProxy arrived meanwhile";
                    }
                    Outcomes.Add(Ngrok, verdict + " (" + what + ")");
                }
            }
            if (receive.IsCompleted && !token.IsCancellationRequested)
            {
                await receive;
                Outcomes.Add(Ngrok, "error: the server closed the control connection");
            }
        }
        catch (OperationCanceledException) when (session.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            Outcomes.Add(Ngrok, "sessions ended after their minute");
        }
        finally
        {
            await session.CancelAsync();
            foreach (var proxy in pooled.Keys)
            {
                await proxy.DisposeAsync();
            }
            await control.DisposeAsync();
            try
            {
                await receive;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or ProtocolException)
            {
            }
        }
    }

    private static string RandomHex(int bytes) => Convert.ToHexString(RandomNumberGenerator.GetBytes(bytes)).ToLowerInvariant();
}
