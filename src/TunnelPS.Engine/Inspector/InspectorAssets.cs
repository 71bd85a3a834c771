using System.Security.Cryptography;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// The page's files, embedded in the engine assembly (Inspector/Assets: no CDN, nothing fetched at run time): the HTML,
/// one script, one style sheet and an icon. Served with an ETag so a reload costs a 304.
/// </summary>
internal sealed class InspectorAssets
{
    private const string ResourcePrefix = "TunnelPS.Engine.Inspector.Assets.";

    private static readonly (string Path, string Resource, string ContentType)[] Files =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "app.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "favicon.svg", "image/svg+xml"),
    ];

    private static readonly Lazy<InspectorAssets> s_instance = new(() => new InspectorAssets());

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    private InspectorAssets()
    {
        var assembly = typeof(InspectorAssets).Assembly;
        foreach (var (path, resource, contentType) in Files)
        {
            using var stream = assembly.GetManifestResourceStream(ResourcePrefix + resource)
                ?? throw new InvalidOperationException($"The inspector asset {resource} is not embedded in {assembly.GetName().Name}.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var etag = "\"" + Convert.ToHexString(SHA256.HashData(bytes), 0, 8).ToLowerInvariant() + "\"";
            _assets[path] = new Asset(bytes, contentType, etag);
        }
    }

    public static InspectorAssets Instance => s_instance.Value;

    /// <summary>The asset at <paramref name="path"/> (with a 304 when the client has it), or null.</summary>
    public InspectorResponse? Find(string path, string? ifNoneMatch)
    {
        if (!_assets.TryGetValue(path, out var asset))
        {
            return null;
        }
        var response = ifNoneMatch == asset.ETag
            ? InspectorResponse.NotModified()
            : InspectorResponse.Bytes(200, asset.ContentType, asset.Bytes);
        response.CacheControl = "no-cache";
        response.Headers.Add(new("ETag", asset.ETag));
        return response;
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
