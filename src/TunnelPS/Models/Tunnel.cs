using EngineTunnelStatus = TunnelPS.Engine.Client.TunnelStatus;
using TunnelPS.Engine;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Inspection;
using TunnelPS.Hosting;

namespace TunnelPS;

/// <summary>
/// One public URL of a tunnel opened in this PowerShell process (Start-Tunnel). A tunnel
/// served over http and https is two objects with the same <see cref="Name"/>. Live properties
/// read through to the running client; there is one instance per URL, so <c>-eq</c> and
/// events work across commands. Every text that a server, a config file or a local service can fill is shown with its
/// control characters made visible (<see cref="TerminalText"/>): none reaches the terminal as an escape sequence.
/// </summary>
public sealed class Tunnel
{
    private readonly TunnelEndpoint _endpoint;
    private readonly Func<TunnelClient, Uri?> _inspectorUrl;

    /// <param name="endpoint">The engine endpoint behind this URL.</param>
    /// <param name="serverAddress">The tunnel server (host:port).</param>
    /// <param name="log">Where the client's log entries go.</param>
    /// <param name="inspectorUrl">Answers the address of the session's inspector that shows a client's tunnels (null when none does).</param>
    internal Tunnel(TunnelEndpoint endpoint, string serverAddress, EngineLogRoute log, Func<TunnelClient, Uri?> inspectorUrl)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
        _inspectorUrl = inspectorUrl;
        ServerAddress = serverAddress;
        Log = log;
        endpoint.StatusChanged += OnEngineStatusChanged;
    }

    /// <summary>Raised (on an engine thread) when <see cref="Status"/> changes; the sender is this object.</summary>
    public event EventHandler? StatusChanged;

    /// <summary>Raised (on an engine thread) once per completed HTTP exchange; the sender is this object. [capture hook: Models/TunnelCaptureEvents.cs]</summary>
    public event EventHandler<TunnelRequestCapturedEventArgs>? RequestCaptured { add => TunnelCaptureEvents.Add(this, value); remove => TunnelCaptureEvents.Remove(this, value); }

    /// <summary>The tunnel's name in this session (shared by its http and https URLs).</summary>
    public string Name => TerminalText.Line(_endpoint.Name);

    /// <summary>The URL visitors use, e.g. http://blog.localhost:8080 or tcp://localhost:41234.</summary>
    public string PublicUrl => TerminalText.Line(_endpoint.PublicUrl);

    /// <summary>http, https or tcp: the protocol of <see cref="PublicUrl"/>.</summary>
    public string Protocol => _endpoint.Protocol;

    /// <summary>The local service the tunnel forwards to (host:port, or https://host:port).</summary>
    public string LocalAddress => TerminalText.Line(_endpoint.LocalAddress);

    /// <summary>Connecting, Online, Degraded (the local service does not answer), Reconnecting, Stopped or Failed.</summary>
    public TunnelStatus Status => Map(_endpoint.Status);

    /// <summary>Public connections forwarded so far.</summary>
    public long ConnectionCount => _endpoint.ConnectionCount;

    /// <summary>When the public URL was opened.</summary>
    public DateTimeOffset StartTime => _endpoint.StartTime;

    /// <summary>Visitor addresses and CIDR ranges the server lets in (empty: every address not denied).</summary>
    public IReadOnlyList<string> AllowIP => _endpoint.Definition.AllowIP ?? [];

    /// <summary>Visitor addresses and CIDR ranges the server refuses.</summary>
    public IReadOnlyList<string> DenyIP => _endpoint.Definition.DenyIP ?? [];

    /// <summary>The tunnel server (host:port) the URL lives on.</summary>
    public string ServerAddress { get; }

    /// <summary>
    /// The web inspector of this session that shows the tunnel's requests, e.g. http://127.0.0.1:4040; null when the
    /// tunnel was started with -InspectAddress disabled (or inspect_addr: disabled), or it has stopped.
    /// </summary>
    public string? InspectUrl => _inspectorUrl(Client) is { } url
        ? (url.Query.Length > 0 ? url.ToString() : url.GetLeftPart(UriPartial.Authority))
        : null;

    /// <summary>
    /// The name of this URL in the inspector API (/api/tunnels/{name}), unique as ngrok's agent makes it: Name for the
    /// https URL and for a tunnel with one URL, "Name (http)" for the http URL of a tunnel that also has an https one.
    /// Get-Tunnel, Stop-Tunnel and Get-TunnelRequest select by Name, which both URLs share.
    /// </summary>
    public string ApiName => TerminalText.Line(_endpoint.ApiName)!;

    /// <summary>Why the tunnel failed, is reconnecting or is degraded; empty while it is Online.</summary>
    public string? Error => TerminalText.Line(_endpoint.Error);

    /// <summary>The most recent failure (local service unreachable, connection to the server lost), kept after the tunnel recovers; empty if none yet.</summary>
    public string? LastError => TerminalText.Line(_endpoint.LastError);

    /// <summary>When <see cref="LastError"/> happened.</summary>
    public DateTimeOffset? LastErrorTime => _endpoint.LastErrorTime;

    /// <summary>Requests the tunnel's capture holds now (shared by its http and https URLs; 0 without capture).</summary>
    public int CapturedCount => Capture?.Count ?? 0;

    /// <summary>The memory the tunnel's capture holds now, in bytes (heads and bodies); at most -InspectMemoryLimit.</summary>
    public long CaptureBytes => Capture?.HeldBytes ?? 0;

    /// <summary>Older requests the capture evicted to stay within -InspectLimit and -InspectMemoryLimit.</summary>
    public long CaptureDroppedCount => Capture?.Dropped ?? 0;

    /// <summary>The bytes of the requests the capture evicted.</summary>
    public long CaptureDroppedBytes => Capture?.DroppedBytes ?? 0;

    private CaptureStore? Capture => _endpoint.Client.CaptureFor(_endpoint.Definition);

    /// <summary>The engine endpoint behind this URL.</summary>
    internal TunnelEndpoint Endpoint => _endpoint;

    /// <summary>The client that serves this URL (and maybe its sibling URL).</summary>
    internal TunnelClient Client => _endpoint.Client;

    /// <summary>Where the client's log entries go (the cmdlet that waits on it, if any).</summary>
    internal EngineLogRoute Log { get; }

    /// <summary>The public URL.</summary>
    public override string ToString() => PublicUrl;

    internal static TunnelStatus Map(EngineTunnelStatus status) => status switch
    {
        EngineTunnelStatus.Connecting => TunnelStatus.Connecting,
        EngineTunnelStatus.Online => TunnelStatus.Online,
        EngineTunnelStatus.Reconnecting => TunnelStatus.Reconnecting,
        EngineTunnelStatus.Stopped => TunnelStatus.Stopped,
        EngineTunnelStatus.Degraded => TunnelStatus.Degraded,
        _ => TunnelStatus.Failed,
    };

    private void OnEngineStatusChanged(object? sender, EventArgs e) => StatusChanged?.Invoke(this, EventArgs.Empty);
}
