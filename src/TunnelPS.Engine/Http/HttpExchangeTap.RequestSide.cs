namespace TunnelPS.Engine.Http;

internal sealed partial class HttpExchangeTap
{
    private enum RequestMode
    {
        Head,
        Body,
        AwaitingUpgradeDecision,
    }

    /// <summary>Visitor → local: request heads and bodies. Touched only by the thread that holds it.</summary>
    private sealed class RequestSide(HttpExchangeTap tap) : Side
    {
        private readonly PartialHead _head = new();
        private readonly HttpBodyFramer _framer = new();
        private RequestMode _mode;
        private bool _started;
        private long _startTimestamp;
        private DateTimeOffset _startTime;
        private TappedExchange? _request;
        private TappedExchange? _upgradeRequest;

        /// <summary>Follows request bytes; a parse error records what it can and stops the tap.</summary>
        public void Read(ReadOnlySpan<byte> data)
        {
            try
            {
                ReadCore(data);
            }
            catch (HttpParseException ex)
            {
                OnParseError(ex.Message, data);
            }
#pragma warning disable CA1031 // A tap must never break the tunnel.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                tap.Stop("Capture failed: " + ex.Message);
            }
        }

        /// <summary>At close: a request head that never completed is recorded as unparsed.</summary>
        public void OnConnectionClosed()
        {
            if (_mode == RequestMode.Head && _request is null && HasContent(_head.Span))
            {
                RecordUnparsed("The connection closed before the request head was complete.", _head.Span, default);
            }
        }

        public override void Flush(string reason)
        {
            var request = _request;
            _request = null;
            if (request is not null)
            {
                // An exchange the response side ended (upgrade, unparsable response) keeps its own outcome.
                if (!request.EndedByResponse)
                {
                    request.SetError(reason);
                }
                tap.RequestDone(request);
            }
            _upgradeRequest = null;
            _mode = RequestMode.Head;
        }

        public override void ReleaseBuffers() => _head.Dispose();

        private void ReadCore(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty && !tap.Stopped)
            {
                switch (_mode)
                {
                    case RequestMode.Body:
                        {
                            var request = _request!;
                            var used = _framer.Advance(data, request.RequestBody, out var complete);
                            request.BytesIn += used;
                            data = data[used..];
                            if (complete)
                            {
                                Finish(request);
                            }
                            break;
                        }
                    case RequestMode.AwaitingUpgradeDecision:
                        // Bytes sent after an upgrade request before its response was seen are the protocol after a
                        // 101; once the response declined, what follows is HTTP again.
                        if (!_upgradeRequest!.UpgradeDeclined)
                        {
                            return;
                        }
                        _upgradeRequest = null;
                        _mode = RequestMode.Head;
                        break;
                    default:
                        {
                            if (!_started)
                            {
                                _started = true;
                                _startTimestamp = tap._time.GetTimestamp();
                                _startTime = tap._time.GetUtcNow();
                            }
                            if (!_head.TryTake(ref data, HttpHeadScanner.TryScanRequest, out var head, out var headBytes))
                            {
                                return;
                            }
                            Start(head, headBytes);
                            break;
                        }
                }
            }
        }

        private void Start(in ScannedHead head, ReadOnlySpan<byte> headBytes)
        {
            _started = false;
            _framer.StartRequest(head);
            var exchange = new TappedExchange
            {
                RequestHead = headBytes.ToArray(),
                IsHeadRequest = head.IsHeadMethod,
                IsConnectRequest = head.IsConnectMethod,
                WantsUpgrade = head.IsUpgradeRequest || head.IsConnect,
                StartTimestamp = _startTimestamp,
                StartTime = _startTime,
                BytesIn = headBytes.Length,
                RequestBody = _framer.IsComplete ? null : new BodyCapture(tap._cap, _framer.ContentLength),
            };
            tap.Enqueue(exchange);
            if (_framer.IsComplete)
            {
                Finish(exchange);
            }
            else
            {
                _request = exchange;
                _mode = RequestMode.Body;
            }
            // Response bytes that came before this request can be matched now, if the response side is free (else
            // its thread does it when its call ends).
            if (tap._responses.HoldingEarly && tap._responses.TryEnter())
            {
                try
                {
                    tap._responses.MatchEarly();
                }
                finally
                {
                    tap._responses.Exit();
                }
            }
        }

        private void Finish(TappedExchange exchange)
        {
            exchange.RequestEndTimestamp = tap._time.GetTimestamp();
            _request = null;
            if (exchange.WantsUpgrade && !exchange.UpgradeDeclined)
            {
                _upgradeRequest = exchange;
                _mode = RequestMode.AwaitingUpgradeDecision;
            }
            else
            {
                _mode = RequestMode.Head;
            }
            tap.RequestDone(exchange);
        }

        private void OnParseError(string message, ReadOnlySpan<byte> data)
        {
            if (_mode == RequestMode.Head && _request is null)
            {
                RecordUnparsed(message, _head.Span, data);
            }
            else if (_request is not null)
            {
                _request.SetError("Unparsable request body framing: " + message);
                _request.MarkUnparsed();
            }
            tap.Stop("Capture stopped: " + message);
        }

        /// <summary>Bytes that are not a request head, recorded at once as an exchange of their own.</summary>
        private void RecordUnparsed(string message, ReadOnlySpan<byte> partial, ReadOnlySpan<byte> data)
        {
            var exchange = new TappedExchange
            {
                StartTimestamp = _started ? _startTimestamp : tap._time.GetTimestamp(),
                StartTime = _started ? _startTime : tap._time.GetUtcNow(),
                RequestBody = tap.Sample(partial, data),
                BytesIn = partial.Length + data.Length,
            };
            exchange.MarkUnparsed();
            exchange.SetError(message);
            _head.Reset();
            _started = false;
            exchange.MarkRequestDone();
            tap.ResponseDone(exchange);
        }

        private static bool HasContent(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept((byte)'\r', (byte)'\n') >= 0;
    }
}
