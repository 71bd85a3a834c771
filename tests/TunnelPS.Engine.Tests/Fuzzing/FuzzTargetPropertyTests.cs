using CsCheck;
using TunnelPS.Fuzz;

namespace TunnelPS.Engine.Tests.Fuzzing;

/// <summary>
/// Random bytes, and corpus files with random bytes changed, through every fuzz target: a cheap, bounded stand-in for
/// afl-fuzz on every test run. Any exception outside a parser's contract fails (CsCheck prints a seed to replay).
/// </summary>
public sealed class FuzzTargetPropertyTests
{
    private static byte[][] CorpusFiles(string target) =>
        Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "FuzzCorpus", target)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();

    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void RandomBytesStayWithinTheContract(string target)
    {
        Gen.Byte.Array[0, 300].Sample(input => FuzzTargets.Run(target, input), iter: 2000);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void CorpusFilesWithBytesChangedStayWithinTheContract(string target)
    {
        var files = CorpusFiles(target).Where(f => f.Length > 0).ToArray();
        var edit = Gen.Select(Gen.Int[0, int.MaxValue], Gen.Byte, Gen.Int[0, 2]);
        Gen.Select(Gen.Int[0, files.Length - 1], edit.Array[1, 6]).Sample((index, edits) =>
        {
            var input = files[index].ToList();
            foreach (var (at, value, kind) in edits)
            {
                var position = at % (input.Count + 1);
                switch (kind)
                {
                    case 0 when position < input.Count:
                        input[position] = value;
                        break;
                    case 1:
                        input.Insert(position, value);
                        break;
                    default:
                        if (position < input.Count)
                        {
                            input.RemoveAt(position);
                        }
                        break;
                }
            }
            FuzzTargets.Run(target, input.ToArray());
        }, iter: 1000);
    }
}
