using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// The token file read again while the server runs (issue 16, item 9): a file that is empty, unreadable or broken for
/// a moment keeps the tokens in force, a file that is still being written is applied only once it has settled, only
/// 'tokens: []' removes every token. A real file in a temp folder, the server's maintenance ticks driven by a fake
/// clock.
/// </summary>
public sealed class TokenFileReloadTests : IDisposable
{
    private const string TokenA = "reload-a-token-0001";
    private const string TokenB = "reload-b-token-0002";
    private const string TokenC = "reload-c-token-0003";
    private static readonly string BothTokens = $"tokens:\n  - token: {TokenA}\n  - token: {TokenB}\n";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tunnelps-tokens-");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _log = new();
    private readonly CallbackLoggerFactory _logger;

    public TokenFileReloadTests() =>
        _logger = new CallbackLoggerFactory((level, _, message, _) => _log.Enqueue(((LogLevel)level, message)));

    public void Dispose()
    {
        _logger.Dispose();
        _folder.Delete(recursive: true);
    }

    private string TokenFile(string text)
    {
        var path = Path.Combine(_folder.FullName, "tokens.yml");
        File.WriteAllText(path, text);
        return path;
    }

    private Task<TunnelServer> StartServerAsync(string file) =>
        TunnelHarness.StartServerAsync(o => o with { AuthTokenFile = file, TimeProvider = _time, HeartbeatTimeout = TimeSpan.FromDays(1), LoggerFactory = _logger });

    private static async Task<RawPeer> LoginAsync(TunnelServer server, string token)
    {
        var peer = await RawPeer.DialAsync(server.Port);
        Assert.Equal("", (await peer.LoginAsync(token)).Error);
        return peer;
    }

    private IEnumerable<string> Warnings => _log.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message);

    [Theory]
    [InlineData("")]
    [InlineData("# every token is on its way\n")]
    [InlineData("tokens:\n")]
    [InlineData("tokens: ~\n")]
    public async Task A_token_file_without_a_token_list_on_reload_keeps_the_tokens_in_force_and_warns(string text)
    {
        using var reloads = new MetricCollector<long>(null, "TunnelPS", "tunnelps.server.token_file_reloads");
        var file = TokenFile(BothTokens);
        await using var server = await StartServerAsync(file);
        await using var a = await LoginAsync(server, TokenA);
        await using var b = await LoginAsync(server, TokenB);

        File.WriteAllText(file, text);
        await MaintenanceTicks.UntilAsync(server, _time, () => server.Tenants.Count != 2 || Warnings.Any(m => m.Contains("tokens: []", StringComparison.Ordinal)), "warned about the file without tokens");

        Assert.Equal(2, server.Tenants.Count);
        Assert.Equal(2, server.SessionCount);
        var warning = Assert.Single(Warnings, m => m.Contains("tokens: []", StringComparison.Ordinal));
        Assert.Contains(file, warning, StringComparison.Ordinal);
        Assert.Contains("2 tokens in force are kept", warning, StringComparison.Ordinal);
        Assert.Contains(reloads.GetMeasurementSnapshot(), m => m.Tags.TryGetValue("outcome", out var outcome) && "no_list".Equals(outcome));

        // The file back as it was: nothing to do, nobody is disconnected; a second look at the empty file warned once only.
        File.WriteAllText(file, BothTokens + "# restored\n");
        await MaintenanceTicks.AdvanceAsync(server, _time, 4);
        Assert.Equal(2, server.SessionCount);
        Assert.Single(Warnings, m => m.Contains("tokens: []", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tokens_with_an_empty_list_removes_every_token_and_ends_their_sessions()
    {
        var file = TokenFile(BothTokens);
        await using var server = await StartServerAsync(file);
        await using var a = await LoginAsync(server, TokenA);

        File.WriteAllText(file, "tokens: []\n");
        await MaintenanceTicks.UntilAsync(server, _time, () => server.Tenants.Count == 0, "emptied");
        await TunnelHarness.WaitUntilAsync(() => server.SessionCount == 0, "A's session ends");
        await Assert.ThrowsAsync<IOException>(() => a.ReadUntilAsync<TunnelPS.Engine.Protocol.NewTunnel>());
    }

    [Fact]
    public async Task A_token_file_that_fails_to_parse_on_reload_keeps_the_tokens_and_warns_with_file_line_and_column()
    {
        var file = TokenFile(BothTokens);
        await using var server = await StartServerAsync(file);
        await using var a = await LoginAsync(server, TokenA);

        File.WriteAllText(file, $"tokens:\n  - token: {TokenA}\n  - token: [{TokenB}\n");
        await MaintenanceTicks.UntilAsync(server, _time, () => _log.Any(e => e.Message.Contains("could not be reloaded", StringComparison.Ordinal)), "the reload is tried");

        var (level, message) = Assert.Single(_log, e => e.Message.Contains("could not be reloaded", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, level);
        Assert.Matches(@":\d+:\d+: YAML syntax error", message);
        Assert.Contains(file + ":", message, StringComparison.Ordinal);
        Assert.Equal(2, server.Tenants.Count);
        Assert.Equal(1, server.SessionCount);
    }

    [Fact]
    public async Task A_reload_that_sees_a_half_written_file_settles_on_the_complete_one()
    {
        // An editor that truncates the file and then writes it, slowly enough that polls see each state: the empty
        // file, then one that parses but lacks B (cut at a line), then the whole file. Only the last may be applied.
        var file = TokenFile(BothTokens);
        await using var server = await StartServerAsync(file);
        await using var a = await LoginAsync(server, TokenA);
        await using var b = await LoginAsync(server, TokenB);
        var complete = $"tokens:\n  - token: {TokenA}\n  - token: {TokenC}\n  - token: {TokenB}\n";

        File.WriteAllText(file, "");
        await MaintenanceTicks.AdvanceAsync(server, _time);
        Assert.Equal(2, server.SessionCount);
        File.WriteAllText(file, complete[..complete.IndexOf(TokenC, StringComparison.Ordinal)]);
        await MaintenanceTicks.AdvanceAsync(server, _time);
        Assert.Equal(2, server.SessionCount);
        File.WriteAllText(file, complete[..(complete.IndexOf(TokenC, StringComparison.Ordinal) + TokenC.Length + 1)]);
        await MaintenanceTicks.AdvanceAsync(server, _time);
        Assert.Equal(2, server.SessionCount);
        File.WriteAllText(file, complete);
        var ticks = await MaintenanceTicks.UntilAsync(server, _time, () => server.Tenants.Count == 3, "the complete file is applied");

        Assert.Equal(2, ticks); // one poll sees the change, the next one sees it has settled
        Assert.Equal(2, server.SessionCount);
        Assert.False(_log.Any(e => e.Message.Contains("could not be reloaded", StringComparison.Ordinal) || e.Message.Contains("tokens: []", StringComparison.Ordinal)),
            "no state of the file in between was read");
        await using var c = await LoginAsync(server, TokenC);
    }
}
