using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace TunnelPS.Tests
{
    /// <summary>
    /// The server side of the tunnel protocol (as ngrokd 1.x speaks it) on 127.0.0.1 over TLS, with a self-signed
    /// certificate: it refuses the login with <c>authError</c> when that is not empty, refuses every tunnel with
    /// <c>tunnelError</c> when that is not empty, and otherwise assigns each protocol the URL <c>protocol://</c> +
    /// <c>host</c>. Proxy connections are held open and never used.
    /// </summary>
    public sealed class HostileTunnelServer : IDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly List<Task> _connections = new List<Task>();
        private readonly X509Certificate2 _certificate;
        private readonly string _host;
        private readonly string _tunnelError;
        private readonly string _authError;
        private readonly Task _accept;

        public HostileTunnelServer(string host, string tunnelError, string authError)
        {
            _host = host;
            _tunnelError = tunnelError;
            _authError = authError;
            using (ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
                _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            }
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _accept = AcceptAsync();
        }

        public int Port { get; }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            Task[] all;
            lock (_connections) { all = _connections.ToArray(); }
            try { Task.WaitAll(all, TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
            try { _accept.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
            _certificate.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception) { return; } // stopped
                lock (_connections) { _connections.Add(ServeAsync(client)); }
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            CancellationToken token = _stop.Token;
            using (client)
            using (var ssl = new SslStream(client.GetStream()))
            {
                try
                {
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, token).ConfigureAwait(false);
                    JsonElement first = await ReadAsync(ssl, token).ConfigureAwait(false);
                    if (first.GetProperty("Type").GetString() == "RegProxy")
                    {
                        await Task.Delay(Timeout.Infinite, token).ConfigureAwait(false);
                    }
                    await WriteAsync(ssl, "AuthResp", new { Version = "2", MmVersion = "1.7", ClientId = "0123456789abcdef0123456789abcdef", Error = _authError }, token).ConfigureAwait(false);
                    while (true)
                    {
                        JsonElement message = await ReadAsync(ssl, token).ConfigureAwait(false);
                        string type = message.GetProperty("Type").GetString();
                        if (type == "Ping")
                        {
                            await WriteAsync(ssl, "Pong", new { }, token).ConfigureAwait(false);
                        }
                        else if (type == "ReqTunnel")
                        {
                            JsonElement payload = message.GetProperty("Payload");
                            string reqId = payload.GetProperty("ReqId").GetString();
                            foreach (string protocol in payload.GetProperty("Protocol").GetString().Split('+'))
                            {
                                object answer = _tunnelError.Length > 0
                                    ? new { ReqId = reqId, Url = "", Protocol = protocol, Error = _tunnelError }
                                    : new { ReqId = reqId, Url = protocol + "://" + _host, Protocol = protocol, Error = "" };
                                await WriteAsync(ssl, "NewTunnel", answer, token).ConfigureAwait(false);
                            }
                        }
                    }
                }
                catch (Exception)
                {
                    // The client left or the server stopped: the connection just closes.
                }
            }
        }

        private static async Task WriteAsync(SslStream stream, string type, object payload, CancellationToken token)
        {
            byte[] body = JsonSerializer.SerializeToUtf8Bytes(new { Type = type, Payload = payload });
            byte[] frame = new byte[8 + body.Length];
            BinaryPrimitives.WriteInt64LittleEndian(frame, body.Length);
            body.CopyTo(frame, 8);
            await stream.WriteAsync(frame, token).ConfigureAwait(false);
            await stream.FlushAsync(token).ConfigureAwait(false);
        }

        private static async Task<JsonElement> ReadAsync(SslStream stream, CancellationToken token)
        {
            byte[] length = new byte[8];
            await stream.ReadExactlyAsync(length, token).ConfigureAwait(false);
            long size = BinaryPrimitives.ReadInt64LittleEndian(length);
            if (size < 0 || size > 1 << 20) throw new InvalidOperationException("frame too large");
            byte[] body = new byte[size];
            await stream.ReadExactlyAsync(body, token).ConfigureAwait(false);
            using (JsonDocument document = JsonDocument.Parse(body)) { return document.RootElement.Clone(); }
        }
    }
}
