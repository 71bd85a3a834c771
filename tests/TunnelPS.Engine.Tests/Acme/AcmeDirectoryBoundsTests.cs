using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TunnelPS.Engine.Acme;

namespace TunnelPS.Engine.Tests.Acme;

/// <summary>
/// The ACME directory is remote too: what it can make the client hold or do is bounded. A scripted directory on
/// loopback (plain HTTP, one response per connection) answers each request with what the test says.
/// </summary>
public sealed class AcmeDirectoryBoundsTests
{
    /// <summary>Serves each request with <paramref name="respond"/>(method, path) until disposed.</summary>
    private sealed class ScriptedDirectory : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _requests;

        public ScriptedDirectory(Func<string, string, string, byte[]> respond)
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var stream = client.GetStream();
                    var head = new StringBuilder();
                    var buffer = new byte[1];
                    while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer, _stop.Token) == 1)
                    {
                        head.Append((char)buffer[0]);
                    }
                    var text = head.ToString();
                    var length = text.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
                        ? int.Parse(line["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture) : 0;
                    var body = new byte[length];
                    await stream.ReadExactlyAsync(body, _stop.Token);
                    var parts = text.Split(' ');
                    Interlocked.Increment(ref _requests);
                    await stream.WriteAsync(respond(parts[0], parts[1], Port.ToString(CultureInfo.InvariantCulture)), _stop.Token);
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Requests => Volatile.Read(ref _requests);
        public Uri Directory => new($"http://127.0.0.1:{Port}/dir");

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await Task.WhenAny(_loop, Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    private static byte[] Response(string status, string body, string extraHeaders = "") =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nReplay-Nonce: n{Guid.NewGuid():n}\r\n{extraHeaders}Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");

    private static string DirectoryJson(string port) =>
        $"{{\"newNonce\":\"http://127.0.0.1:{port}/nonce\",\"newAccount\":\"http://127.0.0.1:{port}/acct\",\"newOrder\":\"http://127.0.0.1:{port}/order\"}}";

    [Fact]
    public async Task An_answer_longer_than_the_bound_is_refused_without_being_read_whole()
    {
        await using var directory = new ScriptedDirectory((_, _, _) =>
            Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {AcmeClient.MaxResponseBytes + 1}\r\nConnection: close\r\n\r\n{{"));
        using var key = AcmeAccountKey.Create();
        using var client = new AcmeClient(directory.Directory, key, null, TimeProvider.System);

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.LoadDirectoryAsync(CancellationToken.None));

        Assert.Contains("at most 1048576 are read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_streamed_answer_that_grows_past_the_bound_is_cut_off()
    {
        var chunk = new string(' ', 64 * 1024);
        await using var directory = new ScriptedDirectory((_, _, _) =>
        {
            var body = new StringBuilder("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
            for (var i = 0; i < 20; i++)
            {
                body.Append(CultureInfo.InvariantCulture, $"{chunk.Length:x}\r\n{chunk}\r\n");
            }
            return Encoding.ASCII.GetBytes(body.Append("0\r\n\r\n").ToString());
        });
        using var key = AcmeAccountKey.Create();
        using var client = new AcmeClient(directory.Directory, key, null, TimeProvider.System);

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.LoadDirectoryAsync(CancellationToken.None));

        Assert.Contains("longer than 1048576 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_authorization_that_stays_pending_is_polled_at_most_MaxPolls_times()
    {
        var polls = 0;
        await using var directory = new ScriptedDirectory((method, path, port) => path switch
        {
            "/dir" => Response("200 OK", DirectoryJson(port)),
            "/nonce" => Response("200 OK", ""),
            "/authz/1" => Response("200 OK", Interlocked.Increment(ref polls) > 0 ? "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},\"challenges\":[]}" : "", "Retry-After: 0\r\n"),
            _ => Response("404 Not Found", "{}"),
        });
        using var key = AcmeAccountKey.Create();
        using var client = new AcmeClient(directory.Directory, key, null, TimeProvider.System);
        await client.LoadDirectoryAsync(CancellationToken.None);
        client.UseAccount($"http://127.0.0.1:{directory.Port}/acct/1");

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.PollAuthorizationAsync(new Uri($"http://127.0.0.1:{directory.Port}/authz/1"), CancellationToken.None));

        Assert.Contains("still pending after 60 polls", error.Message, StringComparison.Ordinal);
        Assert.Equal(AcmeClient.MaxPolls, polls);
    }

    [Fact]
    public async Task BadNonce_is_retried_a_bounded_number_of_times_and_then_reported()
    {
        await using var directory = new ScriptedDirectory((method, path, port) => path switch
        {
            "/dir" => Response("200 OK", DirectoryJson(port)),
            "/nonce" => Response("200 OK", ""),
            _ => Response("400 Bad Request", "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"JWS has an invalid anti-replay nonce\"}"),
        });
        using var key = AcmeAccountKey.Create();
        using var client = new AcmeClient(directory.Directory, key, null, TimeProvider.System);
        await client.LoadDirectoryAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.AccountAsync(null, null, null, CancellationToken.None));

        Assert.Equal("urn:ietf:params:acme:error:badNonce", error.ProblemType);
        Assert.Contains("invalid anti-replay nonce", error.Message, StringComparison.Ordinal);
        Assert.Equal(AcmeClient.MaxBadNonceRetries, client.BadNonceRetries);
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData(0, 0)]
    [InlineData(5, 5)]
    [InlineData(3600, 30)] // a day-long Retry-After cannot park the order loop
    [InlineData(-10, 0)]
    public void Retry_After_is_obeyed_up_to_its_cap(int? seconds, int expected)
    {
        Assert.Equal(TimeSpan.FromSeconds(expected), AcmeClient.PollDelay(seconds is null ? null : TimeSpan.FromSeconds(seconds.Value)));
    }

    [Fact]
    public async Task A_directory_that_requires_an_external_account_is_refused_with_what_to_give()
    {
        await using var directory = new ScriptedDirectory((method, path, port) => path switch
        {
            "/dir" => Response("200 OK", DirectoryJson(port)[..^1] + ",\"meta\":{\"externalAccountRequired\":true}}"),
            _ => Response("200 OK", ""),
        });
        using var key = AcmeAccountKey.Create();
        using var client = new AcmeClient(directory.Directory, key, null, TimeProvider.System);
        await client.LoadDirectoryAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.AccountAsync(null, null, null, CancellationToken.None));

        Assert.Contains("-AcmeExternalAccountBinding", error.Message, StringComparison.Ordinal);
    }
}
