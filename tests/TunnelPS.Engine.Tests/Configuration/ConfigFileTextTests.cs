using System.Text;
using TunnelPS.Engine.Configuration;

namespace TunnelPS.Engine.Tests.Configuration;

/// <summary>Every YAML file TunnelPS reads (agent config, server config, token file) is bounded by what is read.</summary>
public sealed class ConfigFileTextTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnelps-configtext-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_file_above_the_bound_is_refused_with_its_size_and_the_bound()
    {
        var path = Path.Combine(_folder, "big.yml");
        File.WriteAllText(path, new string('#', 2048));
        var error = Assert.Throws<ConfigurationException>(() => ConfigFileText.Read(path, 1024, "token file", "n/a"));
        Assert.Contains("2048 bytes, more than the 1024 bytes a token file may have", error.Message, StringComparison.Ordinal);
    }

    // /dev/zero: a file of no reported length and no end, as a FIFO, a /proc file or a file that grows can be.
    [LinuxFact]
    public void A_file_that_reports_no_length_is_read_only_up_to_the_bound()
    {
        var error = Assert.Throws<ConfigurationException>(() => ConfigFileText.Read("/dev/zero", 64 * 1024, "config file", "n/a"));
        Assert.Contains("more than the 65536 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("utf-8")]
    [InlineData("utf-16")]
    public void Text_is_decoded_as_UTF8_unless_a_byte_order_mark_says_otherwise(string encoding)
    {
        var path = Path.Combine(_folder, "text.yml");
        File.WriteAllText(path, "name: café\n", encoding == "utf-8" ? new UTF8Encoding(false) : Encoding.Unicode);
        Assert.Equal("name: café\n", ConfigFileText.Read(path, 1024, "config file", "n/a"));
    }
}

/// <summary>A fact that needs Linux's /dev files; skipped with the reason elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "This test reads /dev/zero, which only Linux has here.";
        }
    }
}
