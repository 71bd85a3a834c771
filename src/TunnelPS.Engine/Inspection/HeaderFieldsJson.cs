using System.Text.Json;

namespace TunnelPS.Engine.Inspection;

/// <summary>
/// Header fields as every JSON shape of a captured exchange writes them (the inspector API's and HAR's): a "headers"
/// array of {"name","value"} objects in wire order, duplicates kept. One writer, so the two shapes cannot drift.
/// </summary>
internal static class HeaderFieldsJson
{
    /// <param name="valueOf">The value to write for a field (name, value), e.g. redacted; null writes each as captured.</param>
    public static void Write(Utf8JsonWriter w, IReadOnlyList<KeyValuePair<string, string>> headers, Func<string, string, string>? valueOf = null)
    {
        w.WriteStartArray("headers");
        foreach (var header in headers)
        {
            w.WriteStartObject();
            w.WriteString("name", header.Key);
            w.WriteString("value", valueOf is null ? header.Value : valueOf(header.Key, header.Value));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
