namespace TunnelPS.Engine.Server;

/// <summary>A deadline a visitor connection missed, by which the server closed it (the tag of tunnelps.deadline.closes).</summary>
internal enum VisitorDeadline
{
    /// <summary>A request head did not arrive in full within the head timeout of its first byte.</summary>
    Head,

    /// <summary>A write to the visitor made no progress within the write timeout: the visitor reads nothing.</summary>
    Write,

    /// <summary>The connection was silent both ways, owing no response, for the idle timeout.</summary>
    Idle,

    /// <summary>A TLS ClientHello did not arrive in full within its deadline of its first byte.</summary>
    ClientHello,
}

/// <summary>The metric tag of each <see cref="VisitorDeadline"/> (constant strings: counting a close allocates nothing).</summary>
internal static class VisitorDeadlineTags
{
    public static string Tag(this VisitorDeadline deadline) => deadline switch
    {
        VisitorDeadline.Head => "head",
        VisitorDeadline.Write => "write",
        VisitorDeadline.Idle => "idle",
        VisitorDeadline.ClientHello => "client_hello",
        _ => throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "Not a visitor deadline."),
    };

    /// <summary>Counts a connection closed by <paramref name="deadline"/>.</summary>
    public static void CountClose(this VisitorDeadline deadline) =>
        Diagnostics.TunnelMetrics.DeadlineCloses.Add(1, new KeyValuePair<string, object?>("deadline", deadline.Tag()));
}
