using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace TunnelPS.Bench.MuxCompare;

/// <summary>
/// The direct path, no multiplexer: one TLS connection per stream (connect, handshake, then a 2-byte length and the
/// purpose and visitor address, as a proxy connection's first message names its tunnel).
/// </summary>
internal sealed class RawTlsVariant : IMuxVariant
{
    private readonly LoopbackTls _tls;
    private readonly AcceptorService _service;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private RawTlsVariant(LoopbackTls tls, AcceptorService service)
    {
        _tls = tls;
        _service = service;
        _listener = LoopbackTls.Listen();
        _accepting = AcceptLoopAsync();
    }

    public string Name => "raw TLS";

    private int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static RawTlsVariant Start(LoopbackTls tls, AcceptorService service) => new(tls, service);

    public async ValueTask<Stream> OpenAsync(string purpose, CancellationToken cancellationToken)
    {
        var ssl = await _tls.DialAsync(Port, cancellationToken);
        try
        {
            var text = purpose + "\n" + AcceptorService.ClientAddress;
            var header = new byte[2 + Encoding.UTF8.GetByteCount(text)];
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(header.Length - 2));
            Encoding.UTF8.GetBytes(text, header.AsSpan(2));
            await ssl.WriteAsync(header, cancellationToken);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ServeConnectionAsync(socket);
        }
    }

    private async Task ServeConnectionAsync(Socket socket)
    {
        SslStream ssl;
        string purpose;
        try
        {
            ssl = await _tls.AcceptAsync(socket, _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or SocketException)
        {
            return;
        }
        try
        {
            var length = new byte[2];
            await ssl.ReadExactlyAsync(length, _stop.Token);
            var text = new byte[BinaryPrimitives.ReadUInt16LittleEndian(length)];
            await ssl.ReadExactlyAsync(text, _stop.Token);
            purpose = Encoding.UTF8.GetString(text).Split('\n')[0];
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or EndOfStreamException)
        {
            await ssl.DisposeAsync();
            return;
        }
        await _service.ServeAsync(ssl, purpose);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
