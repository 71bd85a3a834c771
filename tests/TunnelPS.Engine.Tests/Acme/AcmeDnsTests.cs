using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using TunnelPS.Engine.Acme;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;
using Xunit.Abstractions;

namespace TunnelPS.Engine.Tests.Acme;

/// <summary>A fact that needs pebble and Debian's bind9 (named); skipped with the reason when either is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PebbleAndBindFactAttribute : FactAttribute
{
    public PebbleAndBindFactAttribute()
    {
        if (PebbleProcess.Executable is null || BindProcess.Executable is null)
        {
            Skip = "pebble and bind9 (named) are needed for the DNS-01 tests (Debian/Ubuntu: apt-get install -y pebble bind9; .ci/run installs them).";
        }
    }
}

/// <summary>
/// DNS-01 for the wildcard *.&lt;Domain&gt;: through RFC 2136 dynamic updates signed with TSIG to Debian's bind9 as the
/// zone's authoritative server, with pebble resolving through that bind9; and through a provider of the caller's own
/// (what the module's -AcmeDnsScript hook is).
/// </summary>
public sealed class AcmeDnsTests(ITestOutputHelper output) : IAsyncDisposable
{
    private const string Domain = "acme.test";
    private readonly string _folder = Directory.CreateTempSubdirectory("tunnelps-acme-dns-").FullName;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    private Task<TunnelServer> StartServerAsync(PebbleProcess pebble, IAcmeDnsProvider dns) =>
        TunnelHarness.StartServerAsync(o => o with
        {
            Domain = Domain,
            Certificate = null,
            CertificateFolder = Path.Combine(_folder, "certs"),
            Acme = new AcmeOptions
            {
                Directory = pebble.Directory,
                AcceptTermsOfService = true,
                DirectoryRoot = pebble.DirectoryRoot,
                StateFolder = Path.Combine(_folder, "acme"),
                DnsProvider = dns,
                RetryDelay = TimeSpan.FromSeconds(1),
                MaxRetryDelay = TimeSpan.FromSeconds(2),
                ScanInterval = TimeSpan.FromMilliseconds(500),
            },
        });

    private static async Task<AcmeCertificateInfo> WaitValidAsync(TunnelServer server, string name, Func<string> log)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var info = server.AcmeCertificates.FirstOrDefault(c => c.Names.Contains(name));
            if (info is { Status: AcmeCertificateStatus.Valid })
            {
                return info;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name} was not issued (last: {info?.Status} {info?.Detail}).\n{log()}");
            }
            await Task.Delay(100);
        }
    }

    private static async Task<X509Certificate2> HandshakeAsync(int port, string host)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream(), false, static (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host });
        return new X509Certificate2(ssl.RemoteCertificate!);
    }

    [PebbleAndBindFact]
    public async Task The_wildcard_is_issued_by_DNS_01_through_an_RFC_2136_update_to_bind9_and_covers_every_random_subdomain()
    {
        await using var bind = await BindProcess.StartAsync(Domain);
        await using var pebble = await PebbleProcess.StartAsync(1, 1, dnsServer: bind.Address);
        var dns = new Rfc2136DnsProvider(bind.Address, Domain, bind.KeyName, bind.Secret);
        await using var server = await StartServerAsync(pebble, dns);

        var wildcard = await WaitValidAsync(server, "*." + Domain, () => pebble.Log + bind.Log);
        output.WriteLine($"*.{Domain}: {wildcard.Issuer}, until {wildcard.NotAfter:u}");

        await using var local = new LocalHttpService();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, null, "web", "https")));
        var endpoint = Assert.Single(await client.StartAsync());
        var host = new Uri(endpoint.PublicUrl).Host;
        var served = await HandshakeAsync(server.Port, host);

        Assert.Equal(["*." + Domain], served.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        Assert.Single(server.AcmeCertificates); // the random name needed no order of its own
        Assert.Equal(1, server.Acme!.OrdersPlaced);
        Assert.Contains("adding an RR at '_acme-challenge." + Domain + "' TXT", bind.Log, StringComparison.Ordinal);
        Assert.Contains("deleting an RR at _acme-challenge." + Domain + " TXT", bind.Log, StringComparison.Ordinal);
        // The control plane (the domain itself) keeps the certificate clients pin.
        Assert.Equal(server.Certificate.Thumbprint, (await HandshakeAsync(server.Port, Domain)).Thumbprint);
    }

    [PebbleAndBindFact]
    public async Task A_wrong_TSIG_secret_is_refused_by_bind9_and_the_wildcard_is_Failed_with_what_to_check()
    {
        await using var bind = await BindProcess.StartAsync(Domain);
        await using var pebble = await PebbleProcess.StartAsync(1, 1, dnsServer: bind.Address);
        var wrong = Convert.ToBase64String(new byte[32]);
        await using var server = await StartServerAsync(pebble, new Rfc2136DnsProvider(bind.Address, Domain, bind.KeyName, wrong));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        AcmeCertificateInfo? info;
        while ((info = server.AcmeCertificates.Single()).Status != AcmeCertificateStatus.Failed)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {info.Status}\n{bind.Log}");
            await Task.Delay(100);
        }
        Assert.Contains("NOTAUTH", info.Detail, StringComparison.Ordinal);
    }

    /// <summary>A provider of the caller's own (the -AcmeDnsScript hook's shape) that writes through to bind9 and records its calls.</summary>
    private sealed class RecordingProvider(IAcmeDnsProvider inner) : IAcmeDnsProvider
    {
        public List<string> Calls { get; } = [];

        public Task AddAsync(string name, string value, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add("Add " + name);
            }
            return inner.AddAsync(name, value, cancellationToken);
        }

        public Task RemoveAsync(string name, string value, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add("Remove " + name);
            }
            return inner.RemoveAsync(name, value, cancellationToken);
        }
    }

    [PebbleAndBindFact]
    public async Task A_provider_of_the_callers_own_is_called_with_Add_then_Remove_for_the_challenge_record()
    {
        await using var bind = await BindProcess.StartAsync(Domain);
        await using var pebble = await PebbleProcess.StartAsync(1, 1, dnsServer: bind.Address);
        var provider = new RecordingProvider(new Rfc2136DnsProvider(bind.Address, Domain, bind.KeyName, bind.Secret));
        await using var server = await StartServerAsync(pebble, provider);

        await WaitValidAsync(server, "*." + Domain, () => pebble.Log);

        Assert.Equal(["Add _acme-challenge." + Domain, "Remove _acme-challenge." + Domain], provider.Calls);
    }
}
