namespace TunnelPS;

/// <summary>The data of <c>Tunnel.RequestCaptured</c>: the exchange that just completed.</summary>
public sealed class TunnelRequestCapturedEventArgs : EventArgs
{
    internal TunnelRequestCapturedEventArgs(TunnelRequest request)
    {
        Request = request;
    }

    /// <summary>The captured request and its response.</summary>
    public TunnelRequest Request { get; }
}
