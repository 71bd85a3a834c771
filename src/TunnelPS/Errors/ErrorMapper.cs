using System.Management.Automation;
using System.Net.Sockets;
using System.Security.Authentication;
using TunnelPS.Engine;
using TunnelPS.Hosting;

namespace TunnelPS.Errors;

/// <summary>
/// The one table that turns an exception from the engine (or the sockets and TLS under it)
/// into a PowerShell ErrorCategory and ErrorRecord.
/// </summary>
/// <remarks>
/// This type names engine types, so it must never be touched by <see cref="ModuleInitializer"/>:
/// it is first used by cmdlets, after the engine resolver is registered.
/// </remarks>
internal static class ErrorMapper
{
    /// <summary>The category an exception belongs to; unwraps single-exception aggregates first.</summary>
    internal static ErrorCategory GetCategory(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return Unwrap(exception) switch
        {
            TunnelException tunnel => tunnel.Kind switch
            {
                TunnelErrorKind.Protocol => ErrorCategory.ProtocolError,
                TunnelErrorKind.Connection => ErrorCategory.ConnectionError,
                TunnelErrorKind.Authentication => ErrorCategory.AuthenticationError,
                TunnelErrorKind.ProxyAuthentication => ErrorCategory.AuthenticationError,
                TunnelErrorKind.Timeout => ErrorCategory.OperationTimeout,
                TunnelErrorKind.NotFound => ErrorCategory.ObjectNotFound,
                TunnelErrorKind.Conflict => ErrorCategory.ResourceExists,
                TunnelErrorKind.InvalidConfiguration => ErrorCategory.InvalidData,
                TunnelErrorKind.LimitReached => ErrorCategory.LimitsExceeded,
                _ => ErrorCategory.NotSpecified,
            },
            OperationCanceledException => ErrorCategory.OperationStopped,
            TimeoutException => ErrorCategory.OperationTimeout,
            AuthenticationException => ErrorCategory.SecurityError,
            SocketException => ErrorCategory.ConnectionError,
            IOException { InnerException: SocketException } => ErrorCategory.ConnectionError,
            IOException => ErrorCategory.ReadError,
            ArgumentException => ErrorCategory.InvalidArgument,
            _ => ErrorCategory.NotSpecified,
        };
    }

    /// <summary>
    /// An ErrorRecord for <paramref name="exception"/> with the given id and the failing item as target. A message with
    /// a control character in it (quoted from a server, a socket or a file) is shown through ErrorDetails with the
    /// control made visible (<see cref="TerminalText.Lines"/>), so the error view never writes it to the terminal raw;
    /// the exception itself is kept as it was.
    /// </summary>
    internal static ErrorRecord ToErrorRecord(Exception exception, string errorId, object? targetObject)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentException.ThrowIfNullOrEmpty(errorId);
        Exception unwrapped = Unwrap(exception);
        return ShownSafely(new ErrorRecord(unwrapped, errorId, GetCategory(unwrapped), targetObject));
    }

    /// <summary>
    /// <paramref name="record"/>, with ErrorDetails that show its exception's message with every control character
    /// made visible (<see cref="TerminalText.Lines"/>) when the message holds one; the error view then writes that.
    /// </summary>
    internal static ErrorRecord ShownSafely(ErrorRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        string message = record.Exception.Message;
        string shown = TerminalText.Lines(message);
        if (!ReferenceEquals(shown, message) && record.ErrorDetails is null)
        {
            record.ErrorDetails = new ErrorDetails(shown);
        }

        return record;
    }

    private static Exception Unwrap(Exception exception)
    {
        while (exception is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            exception = aggregate.InnerExceptions[0];
        }

        return exception;
    }
}
