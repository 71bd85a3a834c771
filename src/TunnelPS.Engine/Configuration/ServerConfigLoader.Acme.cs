namespace TunnelPS.Engine.Configuration;

public static partial class ServerConfigLoader
{
    private static readonly string[] AcmeKeys = ["directory", "email", "accept_terms_of_service", "root_certificate", "eab_key_id", "eab_hmac_key_name", "challenges", "preferred_chain", "dns_server", "dns_zone", "dns_key_name", "dns_key_secret_name"];

    /// <summary>The <c>acme:</c> section (<see cref="ServerAcmeConfig"/>): its presence, even empty, turns ACME on.</summary>
    private sealed partial class Reader
    {
        private ServerAcmeConfig ReadAcme(ConfigYamlScalar key, ConfigYamlNode value)
        {
            var acme = new ServerAcmeConfig();
            if (value is ConfigYamlScalar { IsNull: true })
            {
                return acme;
            }
            foreach (var (name, item) in Section(key, value))
            {
                _positions["acme." + name.Value] = (item.Line, item.Column);
                acme = name.Value switch
                {
                    "directory" => acme with { Directory = AcmeDirectory(name, item) },
                    "email" => acme with { Email = Scalar(name, item) },
                    "accept_terms_of_service" => acme with { AcceptTermsOfService = Bool(name, item) },
                    "root_certificate" => acme with { RootCertificate = FilePath(name, item) },
                    "eab_key_id" => acme with { EabKeyId = Scalar(name, item) },
                    "eab_hmac_key_name" => acme with { EabHmacKeyName = Scalar(name, item) },
                    "challenges" => acme with { Challenges = AcmeChallenges(name, item) },
                    "preferred_chain" => acme with { PreferredChain = Scalar(name, item) },
                    "dns_server" => acme with { DnsServer = Scalar(name, item) },
                    "dns_zone" => acme with { DnsZone = Scalar(name, item) },
                    "dns_key_name" => acme with { DnsKeyName = Scalar(name, item) },
                    "dns_key_secret_name" => acme with { DnsKeySecretName = Scalar(name, item) },
                    _ => throw Unknown(name, AcmeKeys, "acme setting"),
                };
            }
            return acme;
        }

        /// <summary><c>directory</c>: an absolute http(s) URL.</summary>
        private Uri AcmeDirectory(ConfigYamlScalar name, ConfigYamlNode item)
        {
            var text = Scalar(name, item);
            if (text is null || !Uri.TryCreate(text, UriKind.Absolute, out var directory) || (directory.Scheme != Uri.UriSchemeHttps && directory.Scheme != Uri.UriSchemeHttp))
            {
                throw Fail(item, $"'{text}' is not an ACME directory URL", "Give the https:// URL of the CA's ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory.");
            }
            return directory;
        }

        /// <summary><c>challenges</c>: tls-alpn-01 and/or http-01, in order of preference.</summary>
        private IReadOnlyList<string> AcmeChallenges(ConfigYamlScalar name, ConfigYamlNode item)
        {
            var challenges = List(name, item);
            if (challenges.FirstOrDefault(c => c is not ("tls-alpn-01" or "http-01")) is { } bad)
            {
                throw Fail(item, $"'{bad}' is not a challenge type this server answers", "Give tls-alpn-01 and/or http-01, in order of preference.");
            }
            return challenges;
        }
    }
}
