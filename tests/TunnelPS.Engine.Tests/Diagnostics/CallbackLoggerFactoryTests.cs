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
}
