using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Acme;

/// <summary>Puts and removes the DNS-01 TXT records (_acme-challenge.&lt;name&gt;) of an ACME order.</summary>
public interface IAcmeDnsProvider
{
    /// <summary>Adds the TXT record <paramref name="name"/> with <paramref name="value"/>; completes once the DNS serves it.</summary>
    Task AddAsync(string name, string value, CancellationToken cancellationToken);

    /// <summary>Removes exactly that record again (other values of the name stay).</summary>
    Task RemoveAsync(string name, string value, CancellationToken cancellationToken);
}

/// <summary>
/// DNS-01 through RFC 2136 dynamic updates signed with TSIG (RFC 8945, hmac-sha256), which bind9, PowerDNS, Knot and
/// Windows DNS accept. The UPDATE message is encoded here by hand (no DNS library is needed for one message kind) and
/// sent over TCP (RFC 1035 4.2.2: a two-byte length, then the message), which no off-path sender can answer for the
/// server. The server's answer is checked for its response code.
/// </summary>
public sealed class Rfc2136DnsProvider : IAcmeDnsProvider
{
    /// <summary>The TTL of the challenge records.</summary>
    public const int RecordTtl = 60;

    private const ushort TypeTxt = 16;
    private const ushort TypeSoa = 6;
    private const ushort TypeTsig = 250;
    private const ushort ClassIn = 1;
    private const ushort ClassNone = 254;
    private const ushort ClassAny = 255;
    private const ushort Fudge = 300;
        private static readonly byte[] HmacSha256Name = Name("hmac-sha256");

    private readonly string _host;
    private readonly int _port;
    private readonly string _zone;
    private readonly string _keyName;
    private readonly byte[] _secret;
    private readonly TimeProvider _time;

    /// <param name="server">The DNS server's host:port (port 53 when left out).</param>
    /// <param name="zone">The zone the records are in (the one the key may update).</param>
    /// <param name="keyName">The TSIG key's name, as the DNS server knows it.</param>
    /// <param name="secretBase64">The TSIG key's secret, base64 (as tsig-keygen prints it).</param>
    public Rfc2136DnsProvider(string server, string zone, string keyName, string secretBase64, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(server);
        ArgumentException.ThrowIfNullOrWhiteSpace(zone);
        ArgumentException.ThrowIfNullOrWhiteSpace(keyName);
        var colon = server.LastIndexOf(':');
        if (colon > 0 && server.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            if (!int.TryParse(server[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _port) || _port is < 1 or > 65535)
            {
                throw new TunnelConfigurationException($"-AcmeDnsServer '{server}' has no valid port; give host:port, such as ns1.example.com:53.");
            }
            _host = server[..colon];
        }
        else
        {
            _host = server.Trim('[', ']');
            _port = 53;
        }
        _zone = zone.TrimEnd('.').ToLowerInvariant();
        _keyName = keyName.TrimEnd('.').ToLowerInvariant();
        try
        {
            _secret = Convert.FromBase64String(secretBase64.Trim());
        }
        catch (FormatException ex)
        {
            throw new TunnelConfigurationException("The TSIG key secret (-AcmeDnsKeySecret) is not base64; copy the 'secret' of the key as tsig-keygen printed it.", ex);
        }
        _time = time ?? TimeProvider.System;
    }

    public Task AddAsync(string name, string value, CancellationToken cancellationToken) => UpdateAsync(name, value, add: true, cancellationToken);

    public Task RemoveAsync(string name, string value, CancellationToken cancellationToken) => UpdateAsync(name, value, add: false, cancellationToken);

    private async Task UpdateAsync(string name, string value, bool add, CancellationToken token)
    {
        var id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        var message = Encode(id, name, value, add, _time.GetUtcNow());
        using var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(_host, _port, token).ConfigureAwait(false);
            var stream = tcp.GetStream();
            var framed = new byte[2 + message.Length];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
            message.CopyTo(framed, 2);
            await stream.WriteAsync(framed, token).ConfigureAwait(false);
            var lengthBytes = new byte[2];
            await stream.ReadExactlyAsync(lengthBytes, token).ConfigureAwait(false);
            var length = BinaryPrimitives.ReadUInt16BigEndian(lengthBytes);
            if (length < 12)
            {
                throw new AcmeException(string.Create(CultureInfo.InvariantCulture, $"The DNS server {_host}:{_port} answered the update with a {length}-byte message."));
            }
            var answer = new byte[length];
            await stream.ReadExactlyAsync(answer, token).ConfigureAwait(false);
            CheckAnswer(answer, id);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            throw new AcmeException($"The DNS server {_host}:{_port} could not be reached for the DNS-01 update of {name}: {MessageText.Clause(ex.Message)}. Check -AcmeDnsServer.", ex);
        }
    }

    private void CheckAnswer(byte[] answer, ushort id)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(answer) != id)
        {
            throw new AcmeException($"The DNS server {_host}:{_port} answered another message than the update.");
        }
        var rcode = answer[3] & 0x0F;
        if (rcode == 0)
        {
            return;
        }
        var meaning = rcode switch
        {
            5 => "REFUSED: the zone does not allow this key to update it (allow-update / update-policy), or the zone is not served there",
            9 => "NOTAUTH: the TSIG key name or secret is wrong, or the server is not authoritative for the zone " + _zone,
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            10 => "NOTZONE: the name is not in the zone " + _zone + " (set -AcmeDnsZone)",
            _ => "rcode " + rcode.ToString(CultureInfo.InvariantCulture),
        };
        throw new AcmeException($"The DNS server {_host}:{_port} refused the DNS-01 update: {meaning}.");
    }

    /// <summary>The UPDATE message before its TSIG: the zone, and the TXT record added or deleted (RFC 2136 2.5).</summary>
    private byte[] EncodeUpdate(ushort id, string name, string value, bool add)
    {
        using var body = new MemoryStream();
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], 5 << 11); // opcode UPDATE
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1); // ZOCOUNT
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], 0); // PRCOUNT
        BinaryPrimitives.WriteUInt16BigEndian(header[8..], 1); // UPCOUNT
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0); // ADCOUNT (the TSIG is added after the MAC)
        body.Write(header);
        body.Write(Name(_zone));
        WriteUInt16(body, TypeSoa);
        WriteUInt16(body, ClassIn);
        body.Write(Name(name));
        WriteUInt16(body, TypeTxt);
        WriteUInt16(body, add ? ClassIn : ClassNone);
        WriteUInt32(body, add ? RecordTtl : 0u);
        var text = Encoding.ASCII.GetBytes(value);
        if (text.Length > 255)
        {
            throw new AcmeException("A DNS-01 TXT value is longer than 255 characters.");
        }
        WriteUInt16(body, (ushort)(text.Length + 1));
        body.WriteByte((byte)text.Length);
        body.Write(text);
        return body.ToArray();
    }

    /// <summary>The signed UPDATE message (RFC 2136 2, RFC 8945 4.2).</summary>
    internal byte[] Encode(ushort id, string name, string value, bool add, DateTimeOffset now)
    {
        var unsigned = EncodeUpdate(id, name, value, add);
        var timeSigned = (ulong)now.ToUnixTimeSeconds();
        using var variables = new MemoryStream();
        variables.Write(Name(_keyName));
        WriteUInt16(variables, ClassAny);
        WriteUInt32(variables, 0);
        variables.Write(HmacSha256Name);
        WriteTime(variables, timeSigned);
        WriteUInt16(variables, Fudge);
        WriteUInt16(variables, 0); // error
        WriteUInt16(variables, 0); // other len
        byte[] signedData = [.. unsigned, .. variables.ToArray()];
        var mac = HMACSHA256.HashData(_secret, signedData);

        using var signed = new MemoryStream();
        signed.Write(unsigned);
        signed.Write(Name(_keyName));
        WriteUInt16(signed, TypeTsig);
        WriteUInt16(signed, ClassAny);
        WriteUInt32(signed, 0);
        using var rdata = new MemoryStream();
        rdata.Write(HmacSha256Name);
        WriteTime(rdata, timeSigned);
        WriteUInt16(rdata, Fudge);
        WriteUInt16(rdata, (ushort)mac.Length);
        rdata.Write(mac);
        WriteUInt16(rdata, id);
        WriteUInt16(rdata, 0); // error
        WriteUInt16(rdata, 0); // other len
        WriteUInt16(signed, (ushort)rdata.Length);
        signed.Write(rdata.ToArray());
        var message = signed.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(10), 1); // ADCOUNT: the TSIG
        return message;
    }

    /// <summary>A domain name in wire form, lowercase (TSIG's canonical form), with the root label.</summary>
    internal static byte[] Name(string name)
    {
        using var wire = new MemoryStream();
        foreach (var label in name.TrimEnd('.').ToLowerInvariant().Split('.'))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length is 0 or > 63)
            {
                throw new AcmeException($"'{name}' is not a DNS name (a label is empty or longer than 63 characters).");
            }
            wire.WriteByte((byte)bytes.Length);
            wire.Write(bytes);
        }
        wire.WriteByte(0);
        return wire.ToArray();
    }

    private static void WriteUInt16(Stream stream, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        stream.Write(b);
    }

    private static void WriteUInt32(Stream stream, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        stream.Write(b);
    }

    private static void WriteTime(Stream stream, ulong seconds)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, seconds);
        stream.Write(b[2..]); // 48 bits
    }
}
