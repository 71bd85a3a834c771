using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Cluster;

/// <summary>
/// Signs and checks lease values under the cluster secret, so that a client of the store without the secret cannot
/// make a node obey a lease it wrote. A value is "tenant|session|node|run|state|since|previous|expiry|mac": state live
/// or reserved, since when the session claimed the name (Unix ms, kept across renewals), previous the session (hash)
/// its client proved it had before ("" for none), expiry when the signature stops counting (Unix ms; a copied old
/// value cannot be replayed for longer), mac an HMAC-SHA256 (128 bits, hex) of the lease's key and the other fields
/// under a key derived from the secret.
/// </summary>
internal sealed class LeaseSigner(string secret, TimeProvider time)
{
    private const int MacLength = 32;
    private readonly byte[] _key = SHA256.HashData(Encoding.UTF8.GetBytes("tunnelps-cluster-lease:" + secret));

    /// <summary>The signed value of <paramref name="lease"/>, valid for <paramref name="ttl"/> from now.</summary>
    public string Sign(ClusterLease lease, bool live, TimeSpan ttl)
    {
        var expiry = time.GetUtcNow().ToUnixTimeMilliseconds() + (long)ttl.TotalMilliseconds;
        var body = string.Create(CultureInfo.InvariantCulture,
            $"{lease.Tenant}|{lease.Session}|{lease.Node}|{lease.Run}|{(live ? "live" : "reserved")}|{lease.Since}|{lease.Previous}|{expiry}");
        return body + "|" + Mac(lease.Key, body);
    }

    /// <summary>Reads a stored value of the lease <paramref name="key"/> ("host:&lt;name&gt;" or "tcp:&lt;port&gt;") and checks it.</summary>
    public StoredLease Read(string key, string value)
    {
        var fields = value.Split('|');
        string Field(int i) => i < fields.Length ? fields[i] : "";
        long since = 0;
        long expiry = 0;
        string? forgery = null;
        if (fields.Length != 9 || !long.TryParse(fields[5], NumberStyles.None, CultureInfo.InvariantCulture, out since) ||
            !long.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out expiry) || fields[8].Length != MacLength)
        {
            forgery = "it is not a signed lease of this version";
        }
        else if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Mac(key, value[..value.LastIndexOf('|')])), Encoding.ASCII.GetBytes(fields[8])))
        {
            forgery = "its signature does not match the cluster secret";
        }
        else if (expiry < time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            forgery = "its signature expired at " + DateTimeOffset.FromUnixTimeMilliseconds(expiry).ToString("u", CultureInfo.InvariantCulture) + " (an old value written again)";
        }
        return new StoredLease(value, Field(0), Field(1), Field(2), Field(3), Field(4) == "live", since, Field(6), forgery);
    }

    private string Mac(string key, string body)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(key + "\n" + body), mac);
        return Convert.ToHexString(mac[..(MacLength / 2)]).ToLowerInvariant();
    }
}
