namespace TunnelPS.Engine.Configuration;

/// <summary>Did-you-mean for config keys and tunnel names: the known spelling within a small edit distance.</summary>
internal static class SpellingSuggestion
{
    /// <summary>The known key closest to <paramref name="key"/> if it is a plausible typo (case-insensitive edit distance).</summary>
    public static string? ClosestKey(string key, IEnumerable<string> known)
    {
        var lower = key.ToLowerInvariant().Replace('-', '_');
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = EditDistance(lower, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        var allowed = Math.Max(1, Math.Min(3, key.Length / 3));
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>
    /// The name in <paramref name="known"/> closest to <paramref name="name"/> if it is a plausible typo (a tunnel
    /// name: case-insensitive edit distance, as for keys, but with no other spelling folded), or null.
    /// </summary>
    public static string? ClosestName(string name, IEnumerable<string> known)
    {
        var lower = name.ToLowerInvariant();
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = EditDistance(lower, candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        var allowed = Math.Max(1, Math.Min(3, name.Length / 3));
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
