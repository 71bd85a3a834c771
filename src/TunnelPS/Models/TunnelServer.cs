using EngineServer = TunnelPS.Engine.Server.TunnelServer;
using EngineServerStatus = TunnelPS.Engine.Server.TunnelServerStatus;
using TunnelPS.Engine;
using TunnelPS.Hosting;

namespace TunnelPS;

/// <summary>
/// A tunnel server self-hosted in this PowerShell process (Start-TunnelServer). Live properties
/// (Status, Tunnels, SessionCount, Error) read through to the running server; there is one
/// instance per server, so <c>-eq</c> and events work across commands.
/// </summary>
public sealed class TunnelServer
{
    private readonly EngineServer _engine;

    internal TunnelServer(EngineServer engine, EngineLogRoute log)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        Log = log;

        // The engine's listener sockets cannot report their port once closed: read them now.
        Domain = engine.Domain;
        Port = engine.Port;
        HttpPort = engine.HttpPort;
        ServerAddress = engine.ServerAddress;
        CertificateThumbprint = engine.CertificateThumbprint;
        SpkiPin = engine.SpkiPin;
        StartTime = engine.StartTime;
        LoopbackOnly = engine.LoopbackOnly;
        Anonymous = engine.IsAnonymous;
        MaxConnections = engine.MaxConnections;
        NodeName = engine.NodeName;
        engine.StatusChanged += OnEngineStatusChanged;
    }

    /// <summary>Raised (on an engine thread) when <see cref="Status"/> changes; the sender is this object.</summary>
    public event EventHandler? StatusChanged;

    /// <summary>The domain public names live under: &lt;name&gt;.&lt;Domain&gt;.</summary>
    public string Domain { get; }

    /// <summary>The TLS port: tunnel clients connect here, and public HTTPS is served here.</summary>
    public int Port { get; }

    /// <summary>The plain HTTP port for public HTTP; -1 when the server has none.</summary>
    public int HttpPort { get; }

    /// <summary>The address clients give as -ServerAddress: domain:port.</summary>
    public string ServerAddress { get; }

    /// <summary>The SHA-256 fingerprint of the server's certificate (64 hex characters), for -ServerCertificateThumbprint.</summary>
    public string CertificateThumbprint { get; }

    /// <summary>
    /// The public key pin of every certificate the server shows, in curl's --pinnedpubkey form (sha256// and base64):
    /// the certificates minted per https host share the server certificate's key.
    /// </summary>
    public string SpkiPin { get; }

    /// <summary>Starting, Running, Stopping, Stopped or Failed.</summary>
    public TunnelServerStatus Status => Map(_engine.Status);

    /// <summary>Every public URL registered on the server right now (a new snapshot on each read).</summary>
    public ServerTunnel[] Tunnels =>
        _engine.Status is EngineServerStatus.Stopped or EngineServerStatus.Failed
            ? []
            : [.. _engine.Tunnels.Select(t => new ServerTunnel(t))];

    /// <summary>The certificates the server got, or is getting, from its ACME CA (empty without -Acme); a new snapshot on each read.</summary>
    public TunnelServerCertificate[] Certificates => [.. _engine.AcmeCertificates.Select(c => new TunnelServerCertificate(c))];

    /// <summary>Connected tunnel clients.</summary>
    public int SessionCount => _engine.SessionCount;

    /// <summary>True when the server listens on loopback only (the default without a token).</summary>
    public bool LoopbackOnly { get; }

    /// <summary>True when clients need no token (a loopback server without tokens, or -AllowAnonymous).</summary>
    public bool Anonymous { get; }

    /// <summary>The most connections the server holds at once (from -MaxConnections and the process's descriptor limit).</summary>
    public int MaxConnections { get; }

    /// <summary>Connections the server holds right now, over every port.</summary>
    public int ConnectionCount => _engine.ConnectionCount;

    /// <summary>The server's node name in its cluster (-Cluster); null for a single server.</summary>
    public string? NodeName { get; }

    /// <summary>When the server started.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>Why the server failed, when <see cref="Status"/> is Failed.</summary>
    public string? Error => TerminalText.Line(_engine.Error?.Message);

    /// <summary>The local CA that issued the server's certificates (public part only), or null for a certificate the user gave.</summary>
    internal System.Security.Cryptography.X509Certificates.X509Certificate2? CertificateAuthority => _engine.CertificateAuthority;

    /// <summary>The server's own certificate (what it shows for the domain and to clients).</summary>
    internal System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate => _engine.Certificate;

    /// <summary>The engine server.</summary>
    internal EngineServer Engine => _engine;

    /// <summary>Where the server's log entries go (the cmdlet that waits on it, if any).</summary>
    internal EngineLogRoute Log { get; }

    /// <summary>The tokens clients must present (the first is used for tunnels to this server when -AuthToken is omitted).</summary>
    internal IReadOnlyList<string> AuthTokens => _engine.Options.AuthTokens;

    /// <summary>The server address.</summary>
    public override string ToString() => ServerAddress;

    internal static TunnelServerStatus Map(EngineServerStatus status) => status switch
    {
        EngineServerStatus.Starting => TunnelServerStatus.Starting,
        EngineServerStatus.Running => TunnelServerStatus.Running,
        EngineServerStatus.Stopping => TunnelServerStatus.Stopping,
        EngineServerStatus.Stopped => TunnelServerStatus.Stopped,
        _ => TunnelServerStatus.Failed,
    };

    private void OnEngineStatusChanged(object? sender, EventArgs e) => StatusChanged?.Invoke(this, EventArgs.Empty);
}
