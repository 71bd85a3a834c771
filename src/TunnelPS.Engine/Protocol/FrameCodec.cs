using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace TunnelPS.Engine.Protocol;

/// <summary>
/// Reads and writes protocol frames: an 8-byte signed little-endian length, then that many bytes of UTF-8 JSON
/// <c>{"Type":"Name","Payload":{...}}</c>. Frames are read in full (never trusting one read), bounded by
/// <see cref="MaxFrameLength"/>, and written with the length and body in a single write (one TLS record).
/// </summary>
internal static class FrameCodec
{
    /// <summary>The largest frame body TunnelPS accepts.</summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>The size of the length prefix.</summary>
    public const int HeaderLength = 8;

    /// <summary>Per message type, the properties <see cref="RejectNulls"/> checks.</summary>
    private static readonly ConcurrentDictionary<Type, NullCheck[]> NullChecks = new();

    /// <summary>Serialises a message into a new array holding the length prefix and the body.</summary>
    public static byte[] Encode(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.GetSpan(HeaderLength);
        buffer.Advance(HeaderLength);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("Type", message.Type);
            writer.WritePropertyName("Payload");
            JsonSerializer.Serialize(writer, message, message.GetType(), ProtocolJsonContext.Default);
            writer.WriteEndObject();
        }
        var frame = buffer.WrittenSpan.ToArray();
        var length = frame.Length - HeaderLength;
        if (length > MaxFrameLength)
        {
            throw new ProtocolException($"A {message.Type} message of {length} bytes exceeds the frame limit of {MaxFrameLength} bytes.");
        }
        BinaryPrimitives.WriteInt64LittleEndian(frame, length);
        return frame;
    }

    /// <summary>Writes one frame with a single write call.</summary>
    public static async ValueTask WriteAsync(Stream stream, Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var frame = Encode(message);
        await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads one frame in full. Returns null when the stream ends cleanly before a frame starts; throws
    /// <see cref="ProtocolException"/> for a bad length, a truncated frame, malformed JSON or an unknown type.
    /// </summary>
    public static async ValueTask<Message?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[HeaderLength];
        var got = await ReadAtLeastAsync(stream, header, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }
        if (got < HeaderLength)
        {
            throw new ProtocolException($"The connection closed inside a frame header ({got} of {HeaderLength} bytes).");
        }
        var length = BinaryPrimitives.ReadInt64LittleEndian(header);
        if (length < 0 || length > MaxFrameLength)
        {
            throw new ProtocolException($"Frame length {length} is outside the allowed range 0..{MaxFrameLength} bytes; the peer is not speaking the tunnel protocol.");
        }
        var body = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
        try
        {
            var bodyRead = await ReadAtLeastAsync(stream, body.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
            if (bodyRead < length)
            {
                throw new ProtocolException($"The connection closed inside a frame body ({bodyRead} of {length} bytes).");
            }
            return Decode(body.AsSpan(0, (int)length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>Decodes a frame body (the JSON after the length prefix).</summary>
    /// <exception cref="ProtocolException">The body is not UTF-8 JSON text of a known message.</exception>
    public static Message Decode(ReadOnlySpan<byte> body)
    {
        // The JSON reader checks UTF-8 only when it turns a string into UTF-16, and then throws
        // InvalidOperationException: check the whole body first, so bad text is a protocol error like any other.
        if (!Utf8.IsValid(body))
        {
            throw new ProtocolException("A frame body is not valid UTF-8 text.");
        }
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (body[(int)reader.BytesConsumed..].IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                throw new ProtocolException("A frame body has bytes after its JSON object.");
            }
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ProtocolException("A frame body is not a JSON object.");
            }
            string? type = null;
            JsonElement payload = default;
            var hasPayload = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("Type") || string.Equals(property.Name, "Type", StringComparison.OrdinalIgnoreCase))
                {
                    type = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                }
                else if (string.Equals(property.Name, "Payload", StringComparison.OrdinalIgnoreCase))
                {
                    payload = property.Value;
                    hasPayload = property.Value.ValueKind == JsonValueKind.Object;
                }
            }
            if (string.IsNullOrEmpty(type))
            {
                throw new ProtocolException("A frame has no \"Type\" field.");
            }
            var target = MessageType(type);
            if (!hasPayload)
            {
                return (Message)Activator.CreateInstance(target)!;
            }
            var message = (Message?)payload.Deserialize(target, ProtocolJsonContext.Default)
                ?? throw new ProtocolException($"A {type} frame has an empty payload.");
            RejectNulls(message);
            return message;
        }
        catch (JsonException ex)
        {
            throw new ProtocolException($"A frame body is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // A \u escape that is half a surrogate pair is valid UTF-8 but cannot become a .NET string.
            throw new ProtocolException($"A frame body holds a string that is not valid Unicode: {ex.Message}", ex);
        }
    }

    private static Type MessageType(string type) => type switch
    {
        "Auth" => typeof(Auth),
        "AuthResp" => typeof(AuthResp),
        "ReqTunnel" => typeof(ReqTunnel),
        "NewTunnel" => typeof(NewTunnel),
        "ReqProxy" => typeof(ReqProxy),
        "RegProxy" => typeof(RegProxy),
        "StartProxy" => typeof(StartProxy),
        "Ping" => typeof(Ping),
        "Pong" => typeof(Pong),
        "CloseTunnel" => typeof(CloseTunnel),
        "RegLink" => typeof(RegLink),
        "NodeAuth" => typeof(NodeAuth),
        _ => throw new ProtocolException($"Unknown message type '{Truncate(type)}'."),
    };

    /// <summary>
    /// JSON null deserialises into a non-nullable string (or list item) without complaint, and the code that reads the
    /// message then fails far from the wire. ngrok 1.x (Go) never sends null for a string, so a null there is a
    /// protocol error: reject it here, with the field's name.
    /// </summary>
    private static void RejectNulls(Message message)
    {
        foreach (var field in NullChecks.GetOrAdd(message.GetType(), FindNullChecks))
        {
            var value = field.Property.GetValue(message);
            if (value is null && !field.MayBeNull)
            {
                throw new ProtocolException($"A {message.Type} frame has null for {field.Property.Name}, which must be a string.");
            }
            if (value is IEnumerable<string?> items && items.Any(item => item is null))
            {
                throw new ProtocolException($"A {message.Type} frame has a null item in {field.Property.Name}.");
            }
        }
    }

    /// <summary>The reference-typed properties read from JSON; lists of strings are checked for null items too.</summary>
    private static NullCheck[] FindNullChecks(Type type)
    {
        var nullability = new NullabilityInfoContext();
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !p.PropertyType.IsValueType && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => new NullCheck(p, nullability.Create(p).WriteState != NullabilityState.NotNull))
            .ToArray();
    }

    private readonly record struct NullCheck(PropertyInfo Property, bool MayBeNull);

    /// <summary>A value from the wire quoted in an error message: at most 40 characters, its controls shown visibly.</summary>
    private static string Truncate(string value) => TerminalText.Line(value.Length <= 40 ? value : value[..40] + "…");

    private static async ValueTask<int> ReadAtLeastAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}
