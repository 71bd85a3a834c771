namespace TunnelPS.Engine.Http;

internal sealed partial class HttpExchangeTap
{
    /// <summary>Local → visitor: response heads and bodies, matched to requests in order. Touched only by the thread that holds it.</summary>
    private sealed class ResponseSide(HttpExchangeTap tap) : Side
    {
        private readonly PartialHead _head = new();
        private readonly HttpBodyFramer _framer = new();
        private readonly PartialHead _early = new();
        private TappedExchange? _response;
        private bool _inBody;
        private long _earlyTimestamp;
        private volatile bool _holdingEarly;

        /// <summary>Response bytes are held for want of the request they answer. Read from any thread.</summary>
        public bool HoldingEarly => _holdingEarly;

        /// <summary>No byte of the next response has crossed (no head begun, no body under way, nothing held). Call while holding this side.</summary>
        public bool AwaitsHead => !_inBody && _head.Count == 0 && _early.Count == 0;

        /// <summary>Takes this side for a call, waiting while the request thread matches held bytes; false once parsing stopped.</summary>
        public bool EnterUnlessStopped()
        {
            var spin = default(SpinWait);
            while (!TryEnter())
            {
                if (tap.Stopped)
                {
                    return false;
                }
                spin.SpinOnce(sleep1Threshold: -1);
            }
            return true;
        }

        /// <summary>Follows response bytes; a parse error records what it can and stops the tap.</summary>
        public void Read(ReadOnlySpan<byte> data)
        {
            try
            {
                if (_early.Count > 0)
                {
                    // Earlier bytes still wait for their request: these go after them.
                    HoldEarly(data);
                    if (tap.ResponsesAwaited())
                    {
                        MatchEarly();
                    }
                    return;
                }
                ReadCore(data, 0);
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

        /// <summary>Parses the held response bytes now that a request is waiting for them.</summary>
        public void MatchEarly()
        {
            if (_early.Count == 0 || tap.Stopped)
            {
                return;
            }
            var held = _early.Span.ToArray();
            _early.Reset();
            _holdingEarly = false;
            try
            {
                ReadCore(held, _earlyTimestamp);
            }
            catch (HttpParseException ex)
            {
                OnParseError(ex.Message, held);
            }
        }

        /// <summary>At close: a body that runs until the connection closes is complete.</summary>
        public void OnConnectionClosed()
        {
            if (_inBody && _response is not null && _framer.OnConnectionClosed())
            {
                Finish(_response);
            }
        }

        public override void Flush(string reason)
        {
            var response = _response;
            _response = null;
            _inBody = false;
            if (response is not null)
            {
                response.SetError(reason);
                tap.ResponseDone(response);
            }
            while (tap.TakeAwaited() is { } awaited)
            {
                awaited.SetError(reason);
                tap.ResponseDone(awaited);
            }
        }

        public override void ReleaseBuffers()
        {
            _head.Dispose();
            _early.Dispose();
            _holdingEarly = false;
        }

        private void ReadCore(ReadOnlySpan<byte> data, long firstByteTimestamp)
        {
            while (!data.IsEmpty && !tap.Stopped)
            {
                if (_inBody)
                {
                    var response = _response!;
                    var used = _framer.Advance(data, response.ResponseBody, out var complete);
                    response.BytesOut += used;
                    data = data[used..];
                    if (complete)
                    {
                        Finish(response);
                    }
                    continue;
                }

                var exchange = tap.PeekAwaited();
                if (exchange is null)
                {
                    HoldEarly(data);
                    return;
                }
                if (exchange.FirstByteTimestamp == 0)
                {
                    exchange.FirstByteTimestamp = firstByteTimestamp != 0 ? firstByteTimestamp : tap._time.GetTimestamp();
                }
                if (!_head.TryTake(ref data, HttpHeadScanner.TryScanResponse, out var head, out var headBytes))
                {
                    return;
                }
                exchange.BytesOut += headBytes.Length;
                if (head.IsInterim)
                {
                    continue;
                }

                tap.TakeAwaited();
                exchange.Status = head.StatusCode;
                exchange.ResponseHead = headBytes.ToArray();
                if (head.StatusCode == 101 || (exchange.WantsUpgrade && head.StatusCode is >= 200 and < 300 && exchange.IsConnectRequest))
                {
                    exchange.IsUpgrade = true;
                    exchange.EndByResponse();
                    Finish(exchange);
                    tap.Stop(SwitchedProtocols);
                    return;
                }
                if (exchange.WantsUpgrade)
                {
                    exchange.DeclineUpgrade();
                }
                _framer.StartResponse(head, exchange.IsHeadRequest, exchange.IsConnectRequest);
                if (_framer.IsComplete)
                {
                    Finish(exchange);
                }
                else
                {
                    exchange.ResponseBody = new BodyCapture(tap._cap, _framer.ContentLength);
                    _response = exchange;
                    _inBody = true;
                }
            }
        }

        private void Finish(TappedExchange exchange)
        {
            exchange.ResponseEndTimestamp = tap._time.GetTimestamp();
            if (ReferenceEquals(_response, exchange))
            {
                _response = null;
                _inBody = false;
            }
            tap.ResponseDone(exchange);
        }

        private void HoldEarly(ReadOnlySpan<byte> data)
        {
            if (_early.Count == 0)
            {
                _earlyTimestamp = tap._time.GetTimestamp();
            }
            if (_early.Count + data.Length > MaxEarlyResponseBytes)
            {
                OnParseError($"More than {MaxEarlyResponseBytes / 1024} KiB of response bytes arrived with no request to answer.", data);
                return;
            }
            _early.Append(data);
            _holdingEarly = true;
        }

        private void OnParseError(string message, ReadOnlySpan<byte> data)
        {
            var exchange = _response ?? tap.TakeAwaited();
            if (exchange is not null)
            {
                exchange.MarkUnparsed();
                exchange.SetError(message);
                exchange.ResponseBody ??= tap.Sample(_head.Span, data);
                // The exchange ends here even if its request is still arriving (the request side closes that half).
                exchange.EndByResponse();
                Finish(exchange);
            }
            tap.Stop("Capture stopped: " + message);
        }
    }
}
