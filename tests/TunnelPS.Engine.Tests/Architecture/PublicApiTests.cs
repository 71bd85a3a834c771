namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// The engine's public surface is what the module uses (and the exceptions that reach a cmdlet), pinned in
/// PublicApi.Engine.txt next to this file: a type or member made public, changed or removed fails here until the list
/// is updated on purpose (run this test with TUNNELPS_UPDATE_PUBLIC_API=1 to rewrite it, and review the diff).
/// </summary>
public sealed class PublicApiTests
{
    private const string ListFile = "PublicApi.Engine.txt";

    [Fact]
    public void The_engine_s_public_surface_matches_the_committed_list()
    {
        var actual = PublicApiText.Of(typeof(TunnelException).Assembly);
        var path = Path.Combine(BuiltAssembly.RepositoryRoot(), "tests", "TunnelPS.Engine.Tests", "Architecture", ListFile);
        if (Environment.GetEnvironmentVariable("TUNNELPS_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllLines(path, actual);
        }
        var expected = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();

        var added = actual.Except(expected, StringComparer.Ordinal).ToList();
        var removed = expected.Except(actual, StringComparer.Ordinal).ToList();
        Assert.True(added.Count == 0 && removed.Count == 0,
            $"The engine's public surface differs from {ListFile} ({actual.Count(IsTypeLine)} public types now). A public type or member that the module does not need should be internal; " +
            $"if the change is meant, rerun with TUNNELPS_UPDATE_PUBLIC_API=1 and commit the list.{Environment.NewLine}" +
            string.Join(Environment.NewLine, added.Select(l => "+ " + l).Concat(removed.Select(l => "- " + l))));
    }

    [Fact]
    public void The_list_writes_members_with_their_kinds_and_full_type_names()
    {
        var lines = PublicApiText.Of(typeof(TunnelException).Assembly);

        Assert.Contains("TunnelPS.Engine.TunnelException class : System.Exception, System.Runtime.Serialization.ISerializable", lines);
        Assert.Contains("TunnelPS.Engine.TunnelException..ctor(System.String message, System.Exception inner)", lines);
        Assert.Contains("TunnelPS.Engine.TunnelException.TunnelPS.Engine.TunnelErrorKind Kind { get; }", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("TunnelPS.Engine.Protocol.FrameCodec", StringComparison.Ordinal));
    }

    private static bool IsTypeLine(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var rest = line[(space + 1)..];
        return rest.StartsWith("class", StringComparison.Ordinal) || rest.StartsWith("sealed class", StringComparison.Ordinal) || rest.StartsWith("static class", StringComparison.Ordinal)
            || rest.StartsWith("abstract class", StringComparison.Ordinal) || rest.StartsWith("struct", StringComparison.Ordinal) || rest.StartsWith("enum", StringComparison.Ordinal)
            || rest.StartsWith("interface", StringComparison.Ordinal);
    }
}
