using System.Diagnostics;
using System.Net;
using System.Net.Http;
using TunnelPS.Engine.Inspector;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Inspector;

/// <summary>
/// Only the user who started the inspector reads or replays its captures: on Linux the owner of the peer's socket
/// (/proc/net/tcp) decides; where no owner can be found, the per-user key decides.
/// </summary>
public sealed class InspectorPeerOwnerTests
{
    [OtherUserFact]
    public async Task A_connection_from_another_user_is_refused_and_the_same_user_is_served()
    {
        await using var inspector = InspectorTestHost.Start();
        inspector.Add(target: "/secret-path", requestHeaders: [new("Authorization", "Bearer visitor-token")]);
        var url = $"{inspector.Server.Url}api/requests/http";

        var (otherStatus, otherBody) = await CurlAsync(url, asUser: "nobody");
        var (sameStatus, sameBody) = await CurlAsync(url, asUser: null);

        Assert.True(otherStatus == "403", $"another user got {otherStatus}: {otherBody}");
        Assert.DoesNotContain("secret-path", otherBody, StringComparison.Ordinal);
        Assert.Contains("another user", otherBody, StringComparison.Ordinal);
        Assert.Equal("200", sameStatus);
        Assert.Contains("secret-path", sameBody, StringComparison.Ordinal);
    }

    [OtherUserFact]
    public async Task Another_user_cannot_clear_or_replay()
    {
        await using var inspector = InspectorTestHost.Start();
        inspector.Add(target: "/kept");

        var (status, body) = await CurlAsync($"{inspector.Server.Url}api/requests/http", asUser: "nobody", "-X", "DELETE", "-H", "X-TunnelPS-Request: 1");

        Assert.True(status == "403", $"another user got {status}: {body}");
        Assert.Single(inspector.Store.Snapshot());
    }

    [Fact]
    public void The_owner_of_a_connection_is_read_from_the_socket_table()
    {
        // Two lines of /proc/net/tcp6: the inspector's accepted socket (uid 1000) and the client's (uid 65534), on
        // ::ffff:127.0.0.1; and an orphaned one (inode 0) that tells nothing.
        const string Table = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0000000000000000FFFF00000100007F:0FC8 0000000000000000FFFF00000100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1
               1: 0000000000000000FFFF00000100007F:A1B2 0000000000000000FFFF00000100007F:0FC8 01 00000000:00000000 00:00000000 00000000 65534        0 4343 1 0000000000000000 20 4 30 10 -1
               2: 0100007F:C000 0100007F:0FC8 04 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
            """;
        var server = new IPEndPoint(IPAddress.Loopback, 0x0FC8);

        Assert.Equal(65534u, SocketOwner.Find(new StringReader(Table), new IPEndPoint(IPAddress.Loopback, 0xA1B2), server));
        Assert.Equal(65534u, SocketOwner.Find(new StringReader(Table), new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 0xA1B2), new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 0x0FC8)));
        Assert.Null(SocketOwner.Find(new StringReader(Table), new IPEndPoint(IPAddress.Loopback, 0xC000), server));
        Assert.Null(SocketOwner.Find(new StringReader(Table), new IPEndPoint(IPAddress.Loopback, 1), server));
        Assert.Null(SocketOwner.Find(new StringReader("garbage\n0: zz:zz yy:yy 01 x x x q\n"), new IPEndPoint(IPAddress.Loopback, 1), server));
    }

    [Fact]
    public async Task Where_the_owner_is_unknown_the_per_user_key_is_needed_and_the_page_link_sets_it_as_a_cookie()
    {
        var folder = Directory.CreateTempSubdirectory("tunnelps-key-");
        try
        {
            var keyFile = Path.Combine(folder.FullName, "inspector.key");
            await using var inspector = InspectorTestHost.Start(configure: o => o with { IdentifyPeers = false, KeyFile = keyFile });
            inspector.Add(target: "/secret-path");
            var key = (await File.ReadAllTextAsync(keyFile)).Trim();
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }

            using (var refused = await inspector.SendAsync(HttpMethod.Get, "/api/requests/http", mutating: false))
            {
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                Assert.Contains("X-TunnelPS-Key", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/requests/http"))
            {
                wrong.Headers.Add("X-TunnelPS-Key", key[..^1] + (key[^1] == 'A' ? 'B' : 'A'));
                using var response = await inspector.Http.SendAsync(wrong);
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            }
            using (var header = new HttpRequestMessage(HttpMethod.Get, "/api/requests/http"))
            {
                header.Headers.Add("X-TunnelPS-Key", key);
                using var response = await inspector.Http.SendAsync(header);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains("secret-path", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            // The page's link carries the key once: the answer sets it as a cookie and sends the browser to a clean URL.
            Assert.Equal(key, inspector.Server.KeyedUrl!.Query[5..]);
            string cookie;
            using (var link = await inspector.SendAsync(HttpMethod.Get, inspector.Server.KeyedUrl!.PathAndQuery, mutating: false))
            {
                Assert.Equal(HttpStatusCode.SeeOther, link.StatusCode);
                Assert.Equal("/", link.Headers.Location!.OriginalString);
                cookie = Assert.Single(link.Headers.GetValues("Set-Cookie"));
                Assert.Contains("HttpOnly", cookie, StringComparison.Ordinal);
                Assert.Contains("SameSite=Strict", cookie, StringComparison.Ordinal);
            }
            using (var withCookie = new HttpRequestMessage(HttpMethod.Get, "/api/requests/http"))
            {
                withCookie.Headers.Add("Cookie", cookie.Split(';')[0]);
                using var response = await inspector.Http.SendAsync(withCookie);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            // Get-TunnelRequest -InspectUrl (the engine's client) reads the key file itself.
            using var client = new InspectorClient(inspector.Server.Url, keyFile: keyFile);
            var summaries = await client.GetSummariesAsync(null, CancellationToken.None);
            Assert.Contains(summaries, e => e.Target == "/secret-path");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<(string Status, string Body)> CurlAsync(string url, string? asUser, params string[] extra)
    {
        var start = new ProcessStartInfo(asUser is null ? "curl" : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (asUser is not null)
        {
            foreach (var arg in new[] { "-u", asUser, "--", "curl" })
            {
                start.ArgumentList.Add(arg);
            }
        }
        foreach (var arg in new[] { "-s", "--noproxy", "*", "-w", "\n%{http_code}", "--max-time", "15" }.Concat(extra).Append(url))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(InspectorTestHost.Deadline);
        await process.WaitForExitAsync(deadline.Token);
        var text = await output;
        var newline = text.LastIndexOf('\n');
        return newline < 0 ? (text + await error, string.Empty) : (text[(newline + 1)..], text[..newline] + await error);
    }
}

/// <summary>A test that connects as another user (runuser -u nobody curl): skipped, with the reason, where it cannot.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OtherUserFactAttribute : FactAttribute
{
    public OtherUserFactAttribute()
    {
        Skip = !OperatingSystem.IsLinux() ? "The socket owner is read from Linux's /proc/net/tcp; elsewhere the per-user key decides (tested apart)."
            : Environment.UserName != "root" ? "A connection as another user needs root (runuser -u nobody); run the tests as root to cover it."
            : !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser") ? "runuser is not installed (util-linux)."
            : !File.Exists("/usr/bin/curl") ? "curl is not installed (apt-get install -y curl)."
            : null;
    }
}
