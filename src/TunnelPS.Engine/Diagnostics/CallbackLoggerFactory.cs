using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>
/// An <see cref="ILoggerFactory"/> that forwards every enabled log entry as plain values
/// (level, category, message, exception) to a delegate.
/// </summary>
/// <remarks>
/// The PowerShell module loads the engine in a private load context, where
/// Microsoft.Extensions.Logging lives too; the module must never name those types. It hands
/// the engine a delegate and a level filter instead, and the options records' <c>WithLogCallback</c>
/// methods put a factory into them without the module touching their <c>LoggerFactory</c>
/// (Diagnostics knows neither the server nor the client). Levels are the integer values of
/// <see cref="LogLevel"/> (0 Trace … 5 Critical). A sink that throws never breaks the engine. Messages reach the sink
/// as one line with every control character shown visibly (<see cref="TerminalText.Line"/>): many quote a peer.
/// </remarks>
internal sealed class CallbackLoggerFactory : ILoggerFactory
{
    private readonly Action<int, string, string, Exception?> _sink;
    private readonly Func<int, bool> _isEnabled;

    /// <summary>Creates a factory whose loggers call <paramref name="sink"/> for each entry <paramref name="isEnabled"/> accepts.</summary>
    /// <param name="sink">Receives (level, category, message, exception); called on engine threads.</param>
    /// <param name="isEnabled">Asked before a message is formatted; null enables every level but None.</param>
    public CallbackLoggerFactory(Action<int, string, string, Exception?> sink, Func<int, bool>? isEnabled = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _isEnabled = isEnabled ?? (static level => level < (int)LogLevel.None);
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new CallbackLogger(this, categoryName ?? "");

    /// <summary>Providers are not supported: entries go to the delegate only. The provider is disposed.</summary>
    public void AddProvider(ILoggerProvider provider) => provider?.Dispose();

    /// <summary>Nothing to release.</summary>
    public void Dispose()
    {
    }

    private sealed class CallbackLogger(CallbackLoggerFactory factory, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel)
        {
            if (logLevel == LogLevel.None)
            {
                return false;
            }
            try
            {
                return factory._isEnabled((int)logLevel);
            }
#pragma warning disable CA1031 // A faulty filter must not break the engine: log nothing.
            catch (Exception)
#pragma warning restore CA1031
            {
                return false;
            }
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            try
            {
                // A message can quote a peer (a URL, a host name, a reason): its controls are shown, never acted on.
                var message = TerminalText.Line(formatter is null ? state?.ToString() ?? "" : formatter(state, exception));
                factory._sink((int)logLevel, category, message, exception);
            }
#pragma warning disable CA1031 // The sink belongs to the host; its failure must never reach an engine loop.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }
}
