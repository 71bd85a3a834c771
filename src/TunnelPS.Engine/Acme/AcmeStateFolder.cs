using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Acme;

/// <summary>
/// The ACME state of a server on disk: the account key (account.key) and, per name, the issued chain (&lt;name&gt;.crt)
/// and its private key (&lt;name&gt;.key). The folder (one per directory host, so staging and production never mix) and
/// every private key are the owner's alone (mode 600 on Unix, an access list on Windows: Transport/PrivateFiles); files are written to a temporary name and moved, so a crash
/// never leaves half a key.
/// </summary>
internal sealed class AcmeStateFolder(string path)
{
    /// <summary>The largest file read back (a chain of a few certificates takes a few KiB).</summary>
    public const int MaxFileLength = 256 * 1024;

    /// <summary>The most certificates loaded at start.</summary>
    public const int MaxStoredCertificates = 10_000;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Path { get; } = path;

    /// <summary>The default folder for a directory: acme/&lt;host&gt;[_port] under the server's certificate folder.</summary>
    public static string DefaultFor(Uri directory, string? certificateFolder) =>
        System.IO.Path.Combine(certificateFolder ?? CertificateStore.UserFolder, "acme",
            directory.IsDefaultPort ? directory.Host : directory.Host + "_" + directory.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The account key, created (and saved, owner-only) on first use.</summary>
    public AcmeAccountKey LoadOrCreateAccountKey()
    {
        var file = System.IO.Path.Combine(Path, "account.key");
        if (File.Exists(file))
        {
            return AcmeAccountKey.FromPem(ReadBounded(file));
        }
        var key = AcmeAccountKey.Create();
        Write(file, key.ExportPem(), secret: true);
        return key;
    }

    /// <summary>Saves a name's chain and key.</summary>
    public void Save(string name, string chainPem, ECDsa key)
    {
        Write(System.IO.Path.Combine(Path, FileName(name) + ".key"), key.ExportPkcs8PrivateKeyPem(), secret: true);
        Write(System.IO.Path.Combine(Path, FileName(name) + ".crt"), chainPem, secret: false);
    }

    /// <summary>Every stored certificate with its key and chain; files that cannot be read are passed to <paramref name="skipped"/>.</summary>
    public IEnumerable<(string Name, X509Certificate2 Certificate, X509Certificate2Collection Chain, string ChainPem)> LoadAll(Action<string, string> skipped)
    {
        if (!Directory.Exists(Path))
        {
            yield break;
        }
        foreach (var crt in Directory.EnumerateFiles(Path, "*.crt").Take(MaxStoredCertificates))
        {
            var name = NameOf(System.IO.Path.GetFileNameWithoutExtension(crt));
            (X509Certificate2, X509Certificate2Collection, string)? loaded = null;
            try
            {
                var pem = ReadBounded(crt);
                var (certificate, chain) = Build(pem, ReadBounded(System.IO.Path.ChangeExtension(crt, ".key")));
                loaded = (certificate, chain, pem);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException or AcmeException)
            {
                skipped(crt, ex.Message);
            }
            if (loaded is { } l)
            {
                yield return (name, l.Item1, l.Item2, l.Item3);
            }
        }
    }

    /// <summary>The leaf (with its private key, usable by SslStream) and the rest of the chain from a PEM chain and a PEM key.</summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Chain) Build(string chainPem, string keyPem)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPem(chainPem);
        if (all.Count == 0)
        {
            throw new AcmeException("The certificate chain holds no certificate.");
        }
        using var key = ECDsa.Create();
        key.ImportFromPem(keyPem);
        using var withKey = all[0].CopyWithPrivateKey(key);
        var leaf = CertificateStore.LoadPfx(withKey.Export(X509ContentType.Pkcs12));
        var chain = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++)
        {
            chain.Add(all[i]);
        }
        all[0].Dispose();
        return (leaf, chain);
    }

    /// <summary>The file name of a host name: a wildcard's "*" becomes "_wildcard" (host names have no '_').</summary>
    internal static string FileName(string name) => name.StartsWith("*.", StringComparison.Ordinal) ? "_wildcard" + name[1..] : name;

    private static string NameOf(string fileName) => fileName.StartsWith("_wildcard.", StringComparison.Ordinal) ? "*" + fileName["_wildcard".Length..] : fileName;

    private static string ReadBounded(string file)
    {
        var info = new FileInfo(file);
        if (info.Length > MaxFileLength)
        {
            throw new IOException($"'{file}' is {info.Length} bytes; ACME state files are at most {MaxFileLength}.");
        }
        return File.ReadAllText(file);
    }

    private void Write(string file, string text, bool secret)
    {
        PrivateFiles.CreateFolder(Path);
        var temporary = file + "." + Guid.NewGuid().ToString("n") + ".tmp";
        var options = PrivateFiles.Options(FileMode.CreateNew, FileAccess.Write);
        if (!secret && !OperatingSystem.IsWindows())
        {
            // A certificate chain is public: readable by others, as the system's own certificate files are.
            options.UnixCreateMode = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }
        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }
        File.Move(temporary, file, overwrite: true);
        if (secret)
        {
            PrivateFiles.Restrict(file);
        }
    }
}
