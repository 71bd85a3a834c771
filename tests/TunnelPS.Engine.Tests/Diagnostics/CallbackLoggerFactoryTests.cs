using Microsoft.Extensions.Logging;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Diagnostics;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Diagnostics;

public sealed class CallbackLoggerFactoryTests
{
    [Fact]
    public void WithLogCallbackGivesCopiesThatLogThroughTheDelegate()
    {
        var entries = new List<(int Level, string Category, string Message)>();
        void Sink(int level, string category, string message, Exception? exception) => entries.Add((level, category, message));

        var server = new TunnelServerOptions { Domain = "example.com" };
        var logging = server.WithLogCallback(Sink, level => level >= (int)LogLevel.Warning);
        Assert.Null(server.LoggerFactory);
        Assert.Equal("example.com", logging.Domain);
        var logger = Assert.IsType<CallbackLoggerFactory>(logging.LoggerFactory).CreateLogger("server");
        logger.LogInformation("not enabled");
        logger.LogWarning("enabled");

        var client = new TunnelClientOptions { Server = new ServerAddress("127.0.0.1", 4443), Tunnels = [] };
        var clientLogging = client.WithLogCallback(Sink);
        Assert.Null(client.LoggerFactory);
        clientLogging.LoggerFactory!.CreateLogger("client").LogDebug("debug too");

        Assert.Equal([((int)LogLevel.Warning, "server", "enabled"), ((int)LogLevel.Debug, "client", "debug too")], entries);
    }

    [Fact]
    public void A_message_that_quotes_a_peer_reaches_the_sink_as_one_line_with_its_controls_shown()
    {
        var messages = new List<string>();
        using var factory = new CallbackLoggerFactory((_, _, message, _) => messages.Add(message));
        ILogger logger = factory.CreateLogger("server");

#pragma warning disable CA1848, CA2254 // the point is a message built from remote text
        logger.LogWarning("Refused the host " + "evil\u001b]0;pwned\u0007\u001b[2J\nfake: second entry" + " from 127.0.0.1:5555");
#pragma warning restore CA1848, CA2254

        Assert.Equal(["Refused the host evil␛]0;pwned␇␛[2J␊fake: second entry from 127.0.0.1:5555"], messages);
    }
}
