using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// A refused login tells the client's user what to do (give a token, or check the one given), and tells the server's
/// admin why, by kind; a flood of refusals writes one warning per kind and address per interval with the count left out.
/// </summary>
public sealed class LoginRefusalTests
{
    [Fact]
    public async Task A_missing_token_and_a_wrong_token_get_different_messages_that_say_what_to_do()
    {
        await using var server = await TunnelHarness.StartServerAsync(o => o with { AuthTokens = ["right-token"] });

        await using var none = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(1)) with { AuthToken = "" });
        var missing = await Assert.ThrowsAsync<TunnelAuthenticationException>(() => none.StartAsync());
        await using var wrongClient = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(1)) with { AuthToken = "wrong-token" });
        var wrong = await Assert.ThrowsAsync<TunnelAuthenticationException>(() => wrongClient.StartAsync());

        Assert.Contains("needs an auth token and none was given", missing.Message, StringComparison.Ordinal);
        Assert.Contains("Set-TunnelAuthToken", missing.Message, StringComparison.Ordinal);
        Assert.Contains("auth token was refused", wrong.Message, StringComparison.Ordinal);
        Assert.Contains("Check the token", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flood_of_refused_logins_writes_one_warning_per_kind_and_address_per_interval_for_the_admin()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var lines = new List<(int Level, string Message)>();
        await using var server = await TunnelHarness.StartServerAsync(o => o.WithLogCallback((level, _, message, _) =>
        {
            lock (lines)
            {
                lines.Add((level, message));
            }
        }) with { AuthTokens = ["right-token"], TimeProvider = time });

        async Task RefusedAsync(string token)
        {
            await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(1)) with { AuthToken = token });
            await Assert.ThrowsAsync<TunnelAuthenticationException>(() => client.StartAsync());
        }

        for (var i = 0; i < 6; i++)
        {
            await RefusedAsync("wrong-token");
            await RefusedAsync("");
        }
        time.Advance(TimeSpan.FromSeconds(11));
        await RefusedAsync("wrong-token");

        List<string> refusals;
        lock (lines)
        {
            refusals = lines.Where(l => l.Level == 3 && l.Message.Contains("Login from", StringComparison.Ordinal)).Select(l => l.Message).ToList();
        }
        Assert.Equal(3, refusals.Count);
        Assert.Contains("refused (wrong token): its auth token matches none of this server's tokens", refusals[0], StringComparison.Ordinal);
        Assert.Contains("refused (no token): the client gave no auth token", refusals[1], StringComparison.Ordinal);
        Assert.Contains("refused (wrong token)", refusals[2], StringComparison.Ordinal);
        Assert.Contains("(5 more refused for this reason from this address", refusals[2], StringComparison.Ordinal);
        Assert.All(refusals, r => Assert.DoesNotContain("-AuthToken (or", r, StringComparison.Ordinal));
    }
}
