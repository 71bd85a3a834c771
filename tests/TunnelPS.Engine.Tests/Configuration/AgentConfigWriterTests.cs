using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

public sealed class AgentConfigWriterTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tunnelps-writer-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public void Creates_the_folder_and_file_with_owner_only_permissions()
    {
        var path = Path.Combine(_folder.FullName, "nested", ".tunnelps", "tunnelps.yml");
        AgentConfigWriter.SetValue(path, "authtoken", "tok-123");

        Assert.Equal("authtoken: \"tok-123\"\n", File.ReadAllText(path));
        Assert.Equal("tok-123", AgentConfigLoader.Load(path).AuthToken);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        }
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left behind
    }

    [Fact]
    public void Edits_the_line_in_place_and_keeps_everything_else()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        const string before = """
            # my tunnels
            server_addr: tunnel.example.com:443   # production
            authtoken: old-token
            tunnels:
              blog:   { proto: { http: 4000, https: 4000 } }   # keep this comment
              ssh:    { proto: { tcp: 22 } }

            """;
        File.WriteAllText(path, before);

        AgentConfigWriter.SetValue(path, "authtoken", "new-token");

        Assert.Equal(before.Replace("authtoken: old-token", "authtoken: \"new-token\"", StringComparison.Ordinal), File.ReadAllText(path));
    }

    [Fact]
    public void Keeps_a_trailing_comment_on_the_edited_line()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "server_addr: a.example:443 # prod\n");
        AgentConfigWriter.SetValue(path, "server_addr", "b.example:443");
        Assert.Equal("server_addr: \"b.example:443\" # prod\n", File.ReadAllText(path));
    }

    [Fact]
    public void Appends_when_the_key_is_absent_and_keeps_CRLF()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "tunnels:\r\n  web: { proto: { http: 80 } }\r\n");

        AgentConfigWriter.SetValue(path, "authtoken", "abc");

        Assert.Equal("tunnels:\r\n  web: { proto: { http: 80 } }\r\nauthtoken: \"abc\"\r\n", File.ReadAllText(path));
        var config = AgentConfigLoader.Load(path);
        Assert.Equal("abc", config.AuthToken);
        Assert.Single(config.Tunnels);
    }

    [Fact]
    public void Appends_to_a_file_without_a_final_newline()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "server_addr: a.example:443");
        AgentConfigWriter.SetValue(path, "authtoken", "abc");
        Assert.Equal("server_addr: a.example:443\nauthtoken: \"abc\"", File.ReadAllText(path));
    }

    [Fact]
    public void Updates_the_ngrok_1_auth_token_spelling_instead_of_adding_a_second_token()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "auth_token: old\ntrust_host_root_certs: true\n");

        AgentConfigWriter.SetValue(path, "authtoken", "new");

        Assert.Equal("auth_token: \"new\"\ntrust_host_root_certs: true\n", File.ReadAllText(path));
    }

    [Fact]
    public void Null_removes_the_key_including_a_multi_line_value()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "authtoken: >\n  folded\n  token\nserver_addr: a.example:443\n");

        AgentConfigWriter.SetValue(path, "authtoken", null);

        Assert.Equal("server_addr: a.example:443\n", File.ReadAllText(path));
        AgentConfigWriter.SetValue(path, "authtoken", null); // absent: nothing to do
        Assert.Equal("server_addr: a.example:443\n", File.ReadAllText(path));
    }

    [Fact]
    public void Quotes_values_that_need_it()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        const string awkward = "a: \"b\" #c \\d\ttab";
        AgentConfigWriter.SetValue(path, "authtoken", awkward);
        Assert.Equal(awkward, AgentConfigLoader.Load(path).AuthToken);
    }

    [Fact]
    public void Does_not_touch_nested_keys_with_the_same_name()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "tunnels:\n  web:\n    inspect: false\n    proto: { http: 80 }\n");
        AgentConfigWriter.SetValue(path, "inspect", "true");
        var config = AgentConfigLoader.Load(path);
        Assert.True(config.Inspect);
        Assert.False(config.Tunnels[0].Inspect);
    }

    [Fact]
    public void Refuses_a_value_that_would_make_the_file_invalid_and_leaves_it_alone()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        File.WriteAllText(path, "inspect_limit: 10\n");
        var ex = Assert.Throws<ConfigurationException>(() => AgentConfigWriter.SetValue(path, "inspect_limit", "lots"));
        Assert.StartsWith($"{path}:1:16: ", ex.Message, StringComparison.Ordinal);
        Assert.Equal("inspect_limit: 10\n", File.ReadAllText(path));
    }

    [Fact]
    public void Rejects_keys_that_are_not_top_level_scalars()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");
        var ex = Assert.Throws<ArgumentException>(() => AgentConfigWriter.SetValue(path, "tunnels", "x"));
        Assert.Contains("'tunnels' is not a top-level setting", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => AgentConfigWriter.SetValue(path, "authtokn", "x"));
        Assert.Contains("did you mean 'authtoken'", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Refuses_to_write_a_SHA1_pin()
    {
        var path = Path.Combine(_folder.FullName, "tunnelps.yml");

        var ex = Assert.Throws<ConfigurationException>(() => AgentConfigWriter.SetValue(path, "server_certificate_thumbprint", new string('A', 40)));

        Assert.Contains("is a SHA-1 fingerprint (40 hex digits)", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}
