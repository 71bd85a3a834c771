using SharpFuzz;

namespace TunnelPS.Fuzz;

/// <summary>
/// <c>TunnelPS.Fuzz &lt;target&gt;</c>: the afl-fuzz entry point (SharpFuzz's out-of-process fork server; run outside
/// afl-fuzz it runs the target once on standard input). <c>TunnelPS.Fuzz &lt;target&gt; &lt;file or folder&gt;...</c>:
/// replays files through the target and prints every finding, for triage.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
        {
            Console.Error.WriteLine($"Usage: TunnelPS.Fuzz <target> [file-or-folder ...]; targets: {string.Join(", ", FuzzTargets.Names)}.");
            return 2;
        }
        var target = args[0];
        if (args.Length == 1)
        {
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                FuzzTargets.Run(target, copy.GetBuffer().AsSpan(0, (int)copy.Length));
            });
            return 0;
        }

        var failures = 0;
        foreach (var path in args.Skip(1))
        {
            var found = Directory.Exists(path)
                ? FuzzTargets.Replay(target, path)
                : FuzzTargets.Replay(target, Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path));
            foreach (var failure in found)
            {
                Console.WriteLine(failure);
            }
            failures += found.Count;
        }
        Console.WriteLine(failures == 0 ? "No findings." : $"{failures} finding(s).");
        return failures == 0 ? 0 : 1;
    }
}
