using System.Security.Cryptography;
using System.Text;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// The ACME account's P-256 key and the JSON Web Signatures made with it (RFC 7515, ES256 as RFC 8555 6.2 asks): the
/// public key as a JWK (RFC 7517), its thumbprint (RFC 7638), key authorizations for challenges, and flattened JWS
/// bodies for every POST.
/// </summary>
internal sealed class AcmeAccountKey : IDisposable
{
    private readonly ECDsa _key;

    public AcmeAccountKey(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.KeySize != 256)
        {
            throw new ArgumentException("An ACME account key must be ECDSA P-256 (ES256).", nameof(key));
        }
        _key = key;
        var p = key.ExportParameters(false);
        X = AcmeBase64Url.Encode(p.Q.X);
        Y = AcmeBase64Url.Encode(p.Q.Y);
        // RFC 7638: the required members in lexicographic order, no white space.
        Jwk = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + X + "\",\"y\":\"" + Y + "\"}";
        Thumbprint = AcmeBase64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(Jwk)));
    }

    /// <summary>A new random P-256 key.</summary>
    public static AcmeAccountKey Create() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>The key from a PEM (PKCS#8 or SEC1 "EC PRIVATE KEY").</summary>
    public static AcmeAccountKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return new AcmeAccountKey(key);
    }

    public string X { get; }
    public string Y { get; }

    /// <summary>The public key as a JWK in its canonical (RFC 7638) form.</summary>
    public string Jwk { get; }

    /// <summary>The JWK thumbprint, base64url: the second half of every key authorization.</summary>
    public string Thumbprint { get; }

    public string ExportPem() => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>The key authorization of a challenge token (RFC 8555 8.1).</summary>
    public string KeyAuthorization(string token) => token + "." + Thumbprint;

    /// <summary>
    /// A flattened JWS JSON body signed with ES256. Its protected header carries <paramref name="kid"/> (the account URL)
    /// or, when that is null, the JWK (newAccount); <paramref name="payload"/> null is a POST-as-GET (empty payload).
    /// </summary>
    public byte[] Sign(string url, string nonce, string? kid, string? payload, string? externalAccountBinding = null)
    {
        var header = new StringBuilder("{\"alg\":\"ES256\",");
        if (kid is null)
        {
            header.Append("\"jwk\":").Append(Jwk);
        }
        else
        {
            header.Append("\"kid\":").Append(AcmeBase64Url.Json(kid));
        }
        header.Append(",\"nonce\":").Append(AcmeBase64Url.Json(nonce));
        header.Append(",\"url\":").Append(AcmeBase64Url.Json(url)).Append('}');
        if (externalAccountBinding is not null)
        {
            payload = payload![..^1] + ",\"externalAccountBinding\":" + externalAccountBinding + "}";
        }
        var protectedPart = AcmeBase64Url.Encode(Encoding.UTF8.GetBytes(header.ToString()));
        var payloadPart = payload is null ? "" : AcmeBase64Url.Encode(Encoding.UTF8.GetBytes(payload));
        // ES256 signatures are the raw r||s pair (RFC 7518 3.4), which is .NET's default IEEE P1363 format.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return Encoding.UTF8.GetBytes("{\"protected\":\"" + protectedPart + "\",\"payload\":\"" + payloadPart + "\",\"signature\":\"" + AcmeBase64Url.Encode(signature) + "\"}");
    }

    /// <summary>
    /// The externalAccountBinding member of a newAccount request (RFC 8555 7.3.4): a JWS over this account's JWK,
    /// MACed with HS256 under the CA's key.
    /// </summary>
    public string ExternalAccountBinding(string newAccountUrl, string keyId, string hmacKeyBase64Url)
    {
        byte[] macKey;
        try
        {
            macKey = AcmeBase64Url.Decode(hmacKeyBase64Url);
        }
        catch (FormatException ex)
        {
            throw new AcmeException("The external account binding's HMAC key is not base64url text (as the CA gives it). Copy it again from the CA's account page.", ex);
        }
        var header = "{\"alg\":\"HS256\",\"kid\":" + AcmeBase64Url.Json(keyId) +
            ",\"url\":" + AcmeBase64Url.Json(newAccountUrl) + "}";
        var protectedPart = AcmeBase64Url.Encode(Encoding.UTF8.GetBytes(header));
        var payloadPart = AcmeBase64Url.Encode(Encoding.UTF8.GetBytes(Jwk));
        var mac = HMACSHA256.HashData(macKey, Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart));
        return "{\"protected\":\"" + protectedPart + "\",\"payload\":\"" + payloadPart + "\",\"signature\":\"" + AcmeBase64Url.Encode(mac) + "\"}";
    }

    public void Dispose() => _key.Dispose();
}
