using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

/// <summary>The inline_completions key of the server and agent config files (Start-TunnelServer / Start-Tunnel -NoInlineCompletions).</summary>
public sealed class InlineCompletionsConfigTests
{
    private static readonly string Base = Path.GetFullPath(Path.GetTempPath());

    [Theory]
    [InlineData("inline_completions: false\n", false)]
    [InlineData("inline_completions: off\n", false)]
    [InlineData("inline_completions: true\n", true)]
    [InlineData("domain: example.com\n", null)]
    public void The_server_file_turns_them_off_or_leaves_the_default(string yaml, bool? expected) =>
        Assert.Equal(expected, ServerConfigLoader.Parse(yaml, "server.yml", Base).InlineCompletions);

    [Fact]
    public void A_bad_server_value_is_reported_at_its_line_and_column()
    {
        var error = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Parse("domain: example.com\ninline_completions: sometimes\n", "server.yml", Base));
        Assert.StartsWith("server.yml:2:21: 'inline_completions' is 'sometimes'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("inline_completions: no\n", false)]
    [InlineData("inline_completions: yes\n", true)]
    [InlineData("server_addr: example.com:443\n", null)]
    public void The_agent_file_turns_them_off_or_leaves_the_default(string yaml, bool? expected) =>
        Assert.Equal(expected, AgentConfigLoader.Parse(yaml, "tunnelps.yml").InlineCompletions);
}
