using Microsoft.Extensions.Logging;

namespace TunnelPS.Engine.Diagnostics;

/// <summary>ACME certificate log events of a server (fixed ids 1300 and up).</summary>
internal static partial class AcmeLog
{
    [LoggerMessage(1300, LogLevel.Information, "ACME: ordering a certificate for {Name} from {Directory}; until it is issued the name is served with the local CA's certificate")]
    public static partial void Ordering(ILogger logger, string name, string directory);

    [LoggerMessage(1301, LogLevel.Information, "ACME: certificate for {Name} issued by {Issuer}, valid until {NotAfter:u}, renewed from {RenewAt:u} ({Seconds:0.0} s after the order)")]
    public static partial void Issued(ILogger logger, string name, string issuer, DateTimeOffset notAfter, DateTimeOffset renewAt, double seconds);

    [LoggerMessage(1302, LogLevel.Warning, "ACME: the order for {Name} failed: {Reason}. {Kept}; retried at {RetryAt:u}")]
    public static partial void OrderFailed(ILogger logger, string name, string reason, string kept, DateTimeOffset retryAt);

    [LoggerMessage(1303, LogLevel.Information, "ACME: renewing the certificate for {Name} (valid until {NotAfter:u})")]
    public static partial void Renewing(ILogger logger, string name, DateTimeOffset notAfter);

    [LoggerMessage(1304, LogLevel.Debug, "ACME: stored state file {File} skipped: {Reason}")]
    public static partial void StoredFileSkipped(ILogger logger, string file, string reason);

    [LoggerMessage(1305, LogLevel.Debug, "ACME: {Name} is no longer held by a tunnel; it is not ordered now")]
    public static partial void NotHeld(ILogger logger, string name);

    [LoggerMessage(1306, LogLevel.Warning, "ACME: {Count} names have certificates or orders, the most a server keeps ({Max}); {Name} is served with the local CA's certificate")]
    public static partial void TooManyNames(ILogger logger, int count, int max, string name);

    [LoggerMessage(1307, LogLevel.Debug, "ACME: the renewal information of {Name} could not be read: {Reason}")]
    public static partial void RenewalInfoFailed(ILogger logger, string name, string reason);

    [LoggerMessage(1309, LogLevel.Warning, "ACME: the DNS-01 record {Record} could not be removed: {Reason}. Remove it by hand")]
    public static partial void DnsRemoveFailed(ILogger logger, string record, string reason);

    [LoggerMessage(1308, LogLevel.Information, "ACME: {Challenge} challenge for {Name} answered")]
    public static partial void ChallengeAnswered(ILogger logger, string challenge, string name);
}
