using System.Net.Security;

namespace TunnelPS.Engine.Tests.Support;

/// <summary>
/// The bytes a real TLS client (SslStream) sends first: its ClientHello, recorded from a client handshake that is then
/// abandoned. Tests send it (or part of it) over a raw socket to act as a client that stalls at a chosen point.
/// </summary>
internal static class RecordedClientHello
{
    public static async Task<byte[]> RecordAsync(string serverName = "localhost", List<SslApplicationProtocol>? alpn = null)
    {
        using var recorder = new Recorder();
        using var ssl = new SslStream(recorder, leaveInnerStreamOpen: true, (_, _, _, _) => true);
        using var abandon = new CancellationTokenSource();
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName, ApplicationProtocols = alpn }, abandon.Token);
        var hello = await recorder.FirstWrite.WaitAsync(TunnelHarness.Deadline);
        await abandon.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        return hello;
    }

    /// <summary>A stream that keeps the first write and never answers (its reads wait until cancelled).</summary>
    private sealed class Recorder : Stream
    {
        private readonly TaskCompletionSource<byte[]> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<byte[]> FirstWrite => _first.Task;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _first.TrySetResult(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => _first.TrySetResult(buffer.AsSpan(offset, count).ToArray());
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
