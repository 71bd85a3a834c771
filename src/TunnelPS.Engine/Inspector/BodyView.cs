using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// How the inspector shows one captured body: its content encoding undone when it can be (a body cut at the capture
/// cap cannot be), its kind (json, form, html, xml, text, image, binary or empty) and, for textual kinds, the text
/// decoded by the declared charset.
/// </summary>
internal sealed class BodyView
{
    /// <summary>Image types the page shows in an img element; anything else is never served with its own type.</summary>
    private static readonly string[] ShownImageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon", "image/svg+xml"];

    private BodyView(ReadOnlyMemory<byte> content, bool decoded, string? contentType, string? contentEncoding, string kind, string? text)
    {
        Content = content;
        Decoded = decoded;
        ContentType = contentType;
        ContentEncoding = contentEncoding;
        Kind = kind;
        Text = text;
    }

    /// <summary>The body with its content encoding undone, or as captured when there was none or it could not be undone.</summary>
    public ReadOnlyMemory<byte> Content { get; }

    /// <summary>True when <see cref="Content"/> is the decompressed body.</summary>
    public bool Decoded { get; }

    public string? ContentType { get; }

    public string? MediaType => BodyDecoder.GetMediaType(ContentType);

    public string? ContentEncoding { get; }

    /// <summary>json, form, html, xml, text, image, binary or empty.</summary>
    public string Kind { get; }

    /// <summary>The decoded text for the textual kinds, else null.</summary>
    public string? Text { get; }

    /// <summary>The image media type to serve <see cref="Content"/> with, or null when it is not an image the page shows.</summary>
    public string? ImageType => Kind == "image" ? MediaType : null;

    public static BodyView Of(ReadOnlyMemory<byte> raw, bool truncated, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        string? contentType = null;
        string? contentEncoding = null;
        foreach (var header in headers)
        {
            if (contentType is null && header.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = header.Value;
            }
            else if (contentEncoding is null && header.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                contentEncoding = header.Value;
            }
        }

        // Ready: the bytes are the content itself (no coding, or one that was undone).
        var content = raw;
        var decoded = false;
        var ready = string.IsNullOrWhiteSpace(contentEncoding);
        if (!ready && !truncated && !raw.IsEmpty && BodyDecoder.Decompress(raw.Span, contentEncoding) is { } inflated)
        {
            content = inflated;
            ready = true;
            decoded = !contentEncoding!.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase);
        }

        if (content.IsEmpty)
        {
            return new BodyView(content, decoded, contentType, contentEncoding, "empty", null);
        }
        var media = BodyDecoder.GetMediaType(contentType);
        if (ready && media is not null && Array.IndexOf(ShownImageTypes, media) >= 0)
        {
            return new BodyView(content, decoded, contentType, contentEncoding, "image", null);
        }
        var span = content.Span;
        if (!ready || !BodyDecoder.IsText(span, contentType))
        {
            return new BodyView(content, decoded, contentType, contentEncoding, "binary", null);
        }
        var text = BodyDecoder.DecodeText(span, contentType);
        var kind = BodyDecoder.IsJson(span, contentType) ? "json"
            : media == "application/x-www-form-urlencoded" ? "form"
            : media is "text/html" or "application/xhtml+xml" ? "html"
            : media is not null && (media.EndsWith("/xml", StringComparison.Ordinal) || media.EndsWith("+xml", StringComparison.Ordinal)) ? "xml"
            : "text";
        return new BodyView(content, decoded, contentType, contentEncoding, kind, text);
    }
}
