using TunnelPS.Fuzz;

namespace TunnelPS.Engine.Tests.Fuzzing;

/// <summary>
/// Replays every file of tests/TunnelPS.Fuzz/corpus (seeds and what afl-fuzz found) through its fuzz target on every
/// run, so a parser change that brings back an old finding fails here, without afl-fuzz.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static string CorpusDirectory(string target) => Path.Combine(AppContext.BaseDirectory, "FuzzCorpus", target);

    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryCorpusFileStaysWithinTheParsersContract(string target)
    {
        var directory = CorpusDirectory(target);
        Assert.True(Directory.Exists(directory), $"No corpus at {directory}.");
        Assert.NotEmpty(Directory.EnumerateFiles(directory));
        var failures = FuzzTargets.Replay(target, directory);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine + Environment.NewLine, failures));
    }

    /// <summary>The head parsers' corpora (and what afl-fuzz adds to them) also go through the scanner's differential targets.</summary>
    [Theory]
    [InlineData("response-head", "response-framing")]
    [InlineData("request-head", "request-framing")]
    public void TheHeadParsersCorpusAgreesWithTheScanner(string corpus, string target)
    {
        var failures = FuzzTargets.Replay(target, CorpusDirectory(corpus));
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine + Environment.NewLine, failures));
    }

    [Fact]
    public void EveryCorpusFolderIsATarget()
    {
        var folders = Directory.EnumerateDirectories(Path.Combine(AppContext.BaseDirectory, "FuzzCorpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.Names.Order(StringComparer.Ordinal), folders);
    }

}
