namespace TunnelPS.Engine.Acme;

/// <summary>
/// Reads the ALPN protocols a TLS ClientHello offers (RFC 7301) from the hello's raw records, which the server reads
/// itself before the handshake (Transport/ClientHelloReader): the only way to tell a TLS-ALPN-01 validation handshake
/// (acme-tls/1) apart before choosing its certificate, as .NET's SNI callback does not show ALPN.
/// </summary>
internal static class ClientHelloAlpn
{
    private const ushort AlpnExtension = 16;

    /// <summary>True when the hello offers <c>acme-tls/1</c>. Malformed input is "not offered", never an exception.</summary>
    public static bool OffersAcmeTls(ReadOnlySpan<byte> records)
    {
        Span<byte> hello = records.Length <= 4096 ? stackalloc byte[records.Length] : new byte[records.Length];
        var length = 0;
        // The handshake message may span records: join their payloads.
        for (var at = 0; at + 5 <= records.Length;)
        {
            var recordLength = (records[at + 3] << 8) | records[at + 4];
            if (at + 5 + recordLength > records.Length)
            {
                break;
            }
            records.Slice(at + 5, recordLength).CopyTo(hello[length..]);
            length += recordLength;
            at += 5 + recordLength;
        }
        return Offers(hello[..length], "acme-tls/1"u8);
    }

    private static bool Offers(ReadOnlySpan<byte> h, ReadOnlySpan<byte> protocol)
    {
        // type(1) length(3) version(2) random(32) session_id(1+n) cipher_suites(2+n) compression(1+n) extensions(2+n)
        var p = 4 + 2 + 32;
        if (h.Length < p + 1 || h[0] != 1)
        {
            return false;
        }
        p += 1 + h[p];
        if (p + 2 > h.Length)
        {
            return false;
        }
        p += 2 + ((h[p] << 8) | h[p + 1]);
        if (p + 1 > h.Length)
        {
            return false;
        }
        p += 1 + h[p];
        if (p + 2 > h.Length)
        {
            return false;
        }
        var end = Math.Min(h.Length, p + 2 + ((h[p] << 8) | h[p + 1]));
        p += 2;
        while (p + 4 <= end)
        {
            var type = (h[p] << 8) | h[p + 1];
            var size = (h[p + 2] << 8) | h[p + 3];
            p += 4;
            if (p + size > end)
            {
                return false;
            }
            if (type == AlpnExtension && size >= 2)
            {
                var list = h.Slice(p + 2, Math.Min(size - 2, (h[p] << 8) | h[p + 1]));
                for (var q = 0; q < list.Length;)
                {
                    var n = list[q];
                    if (q + 1 + n > list.Length)
                    {
                        return false;
                    }
                    if (list.Slice(q + 1, n).SequenceEqual(protocol))
                    {
                        return true;
                    }
                    q += 1 + n;
                }
                return false;
            }
            p += size;
        }
        return false;
    }
}
