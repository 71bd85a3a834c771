using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using TunnelPS.Engine.Client;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Server;
using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Server;

/// <summary>
/// A public connection's response pump reads its response tracker (whose split-head buffer is pooled) until the pump
/// ends: the tracker must not be disposed, nor the connection's run end, while the pump may still be running.
/// </summary>
public sealed class ResponsePumpLifetimeTests
{
    [Fact]
    public async Task The_tracker_is_disposed_only_after_the_response_pump_has_ended()
    {
        await using var local = new LocalHttpService();
        await using var server = await TunnelHarness.StartServerAsync();
        await using var client = new TunnelClient(TunnelHarness.ClientOptions(server, TunnelHarness.Http(local.Port, "pump")));
        await client.StartAsync();

        var visitor = new StalledVisitor(Encoding.ASCII.GetBytes("GET /one HTTP/1.1\r\nHost: pump.localhost\r\n\r\n"));
        var connection = new PublicHttpConnection(server, visitor, "http", new IPEndPoint(IPAddress.Loopback, 40000), server.NextConnectionId(), NullLogger.Instance);
        var run = connection.RunAsync(CancellationToken.None);

        // The pump has the response and is writing it to a visitor that does not take it.
        await visitor.WriteEntered.Task.WaitAsync(TunnelHarness.Deadline);
        var tracker = connection.Tracker ?? throw new Xunit.Sdk.XunitException("The connection has no response tracker while its pump writes.");
        bool? disposedWhilePumpRan = null;
        visitor.Disposing = () => disposedWhilePumpRan ??= tracker.IsDisposed;

        // The visitor resets its connection: the request side ends, and the pump is still inside its write.
        visitor.Reset();
        await run.WaitAsync(TunnelHarness.Deadline);

        Assert.False(disposedWhilePumpRan, "the tracker (and its pooled head buffer) was disposed while the response pump was still running");
        Assert.True(tracker.IsDisposed, "the tracker was not disposed once the pump had ended");
    }

    /// <summary>
    /// A visitor that sends one request, then waits until <see cref="Reset"/>; its writes wait until it is disposed
    /// (as a write to a peer that reads nothing does, whatever the cancellation), then fail.
    /// </summary>
    private sealed class StalledVisitor(byte[] request) : Stream
    {
        private readonly TaskCompletionSource _reset = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _sent;

        public TaskCompletionSource WriteEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Action? Disposing { get; set; }

        public void Reset() => _reset.TrySetException(new IOException("Connection reset by peer (test)."));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_sent)
            {
                if (buffer.IsEmpty)
                {
                    return 0;
                }
                _sent = true;
                request.CopyTo(buffer);
                return request.Length;
            }
            await _reset.Task.WaitAsync(cancellationToken);
            return 0;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WriteEntered.TrySetResult();
            await _released.Task;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Disposing?.Invoke();
                _released.TrySetException(new ObjectDisposedException(nameof(StalledVisitor)));
                _reset.TrySetException(new ObjectDisposedException(nameof(StalledVisitor)));
            }
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
