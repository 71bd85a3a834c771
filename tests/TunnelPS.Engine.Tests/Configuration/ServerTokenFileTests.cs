using System.Diagnostics;
using System.Globalization;
using System.Text;
using TunnelPS.Engine.Configuration;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Configuration;

/// <summary>The server token file's loader: what it reads at all (its size, its token count) and how it tells "no tokens" from "no list".</summary>
public sealed class ServerTokenFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tunnelps-tokens-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Theory]
    [InlineData("", false)]
    [InlineData("# no tokens yet\n", false)]
    [InlineData("tokens:\n", false)]
    [InlineData("tokens: ~\n", false)]
    [InlineData("tokens: []\n", true)]
    [InlineData("tokens: [tenant-token-0001]\n", true)]
    public void Only_a_tokens_list_says_what_the_tokens_are(string text, bool listsTokens)
    {
        var content = ServerTokenFile.ParseContent(text, "tokens.yml", "localhost");
        Assert.Equal(listsTokens, content.ListsTokens);
        Assert.Equal(text.Contains("0001", StringComparison.Ordinal) ? 1 : 0, content.Entries.Count);
    }

    [Fact]
    public void A_tag_that_is_not_a_valid_URI_is_a_configuration_error_at_its_place()
    {
        // Found by the token-file fuzz target: YamlDotNet threw an ArgumentException ("Global tags must be valid URIs"),
        // which a reload logged as a failed maintenance tick without file, line or column, and a start did not map.
        var error = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse("tokens:\n  - !!a+b first-token-111\n", "tokens.yml", "localhost"));
        Assert.Equal((2, 5), (error.Line, error.Column));
        Assert.StartsWith("tokens.yml:2:5: YAML syntax error: a tag", error.Message, StringComparison.Ordinal);

        var config = Assert.Throws<ConfigurationException>(() => ServerConfigLoader.Parse("domain: tunnel.example.com\nlog_path: !!a+b x\n", "server.yml", "/srv"));
        Assert.Equal((2, 11), (config.Line, config.Column));
    }

    [Fact]
    public async Task A_token_file_that_grows_past_its_bound_is_refused_without_being_read_whole()
    {
        // A named pipe has no length to check beforehand (neither has a device such as /dev/zero): the reader must stop
        // at the bound itself.
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var fifo = Path.Combine(_folder.FullName, "tokens.fifo");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var written = 0L;
        var writer = Task.Run(() =>
        {
            var line = Encoding.UTF8.GetBytes("# " + new string('x', 1021) + "\n");
            try
            {
                using var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                for (var i = 0; i < 8 * 1024; i++)
                {
                    stream.Write(line);
                    written += line.Length;
                }
                stream.Write("tokens: []\n"u8);
            }
            catch (IOException)
            {
                // The reader stopped reading and closed its end (EPIPE).
            }
        });

        ConfigurationException error;
        try
        {
            error = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Load(fifo, "localhost"));
        }
        finally
        {
            if (!writer.IsCompleted)
            {
                // Should the loader fail before it opened the pipe, the writer's open must still return: opening a FIFO
                // for reading and writing never blocks on Linux, and counts as its reader.
                using var unblock = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite);
            }
        }
        await writer.WaitAsync(TunnelHarness.Deadline);
        Assert.Contains("more than the 4194304 bytes a token file may have", error.Message, StringComparison.Ordinal);
        Assert.True(written < 8L * 1024 * 1024, $"the reader stopped early ({written} bytes written)");
    }

    [Fact]
    public void A_token_file_with_more_tokens_than_the_bound_is_refused_at_the_first_token_too_many()
    {
        var text = new StringBuilder("tokens:\n");
        for (var i = 0; i <= ServerTokenFile.MaxTokens; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - tenant-token-{i:D6}\n");
        }

        var error = Assert.Throws<ConfigurationException>(() => ServerTokenFile.Parse(text.ToString(), "tokens.yml", "localhost"));
        Assert.Equal(ServerTokenFile.MaxTokens + 2, error.Line);
        Assert.Contains("more than 10000 tokens", error.Message, StringComparison.Ordinal);
    }
}
