namespace TunnelPS;

/// <summary>
/// The data of the <c>TunnelPS.TunnelStatusChanged</c> PowerShell event (Register-EngineEvent): which tunnel URL
/// changed, from what to what, and why. <c>$Event.Sender</c> is the <see cref="TunnelPS.Tunnel"/>;
/// <c>$Event.SourceEventArgs</c> is this object.
/// </summary>
public sealed class TunnelStatusChangedEventArgs : EventArgs
{
    private readonly Func<bool> _isCurrent;

    internal TunnelStatusChangedEventArgs(Tunnel tunnel, TunnelStatus previousStatus, TunnelStatus status, string? error, DateTimeOffset time, string? warning, Func<bool> isCurrent)
    {
        _isCurrent = isCurrent;
        Tunnel = tunnel;
        PreviousStatus = previousStatus;
        Status = status;
        Error = error;
        Time = time;
        Warning = warning;
    }

    /// <summary>The tunnel (one public URL) whose status changed.</summary>
    public Tunnel Tunnel { get; }

    /// <summary>The status before the change.</summary>
    public TunnelStatus PreviousStatus { get; }

    /// <summary>The status after the change.</summary>
    public TunnelStatus Status { get; }

    /// <summary>Why (for Degraded, Reconnecting and Failed); empty otherwise.</summary>
    public string? Error { get; }

    /// <summary>When the change was seen.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>
    /// The warning for this change (once per tunnel and change to Degraded, Reconnecting or Failed); empty when there is
    /// none. TunnelPS writes it on the host only while <see cref="IsCurrent"/> is true when the event is handled.
    /// </summary>
    public string? Warning { get; }

    /// <summary>
    /// True while this change is still the tunnel's latest and <see cref="Status"/> still holds; false once the tunnel
    /// changed again (it recovered, say) or was stopped. Read when the event is handled, not when it was raised.
    /// </summary>
    public bool IsCurrent => _isCurrent();

    /// <summary>"name url: Previous -> Status".</summary>
    public override string ToString() => $"{Tunnel.Name} {Tunnel.PublicUrl}: {PreviousStatus} -> {Status}";
}
