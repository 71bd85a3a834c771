using System.Net;

namespace TunnelPS.Bench.DataPath;

/// <summary>One way to reach nginx: directly, or through one of the tunnels (the Host header routes it at the server).</summary>
internal sealed record BenchTarget(string Name, IPEndPoint Endpoint, string Host, bool Tls)
{
    public string Url(string path) => $"{(Tls ? "https" : "http")}://{Endpoint}{path}";

    public byte[] Request(string path) => BenchHttpConnection.Request(Host, path);

    public override string ToString() => Name;
}
