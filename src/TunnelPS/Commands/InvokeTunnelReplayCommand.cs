using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text;
using TunnelPS.Completers;
using TunnelPS.Engine.Http;
using TunnelPS.Engine.Inspection;
using TunnelPS.Errors;
using TunnelPS.Session;

namespace TunnelPS.Commands;

/// <summary>
/// <c>Invoke-TunnelReplay</c>: re-sends captured requests to their tunnel's local service (or
/// -Uri), optionally modified, and writes each result: a new TunnelRequest with IsReplay and
/// ReplayOf, kept in the same tunnel's capture.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "TunnelReplay", DefaultParameterSetName = InputObjectSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(TunnelRequest))]
public sealed partial class InvokeTunnelReplayCommand : TunnelCmdletBase
{
    /// <summary>Requests from the pipeline (Get-TunnelRequest, Import-TunnelRequest).</summary>
    public const string InputObjectSet = "InputObject";

    /// <summary>Requests by id.</summary>
    public const string IdSet = "Id";

    private readonly ExchangeReplayer _replayer = new();

    /// <summary>The requests to replay.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    [ValidateNotNull]
    public TunnelRequest[]? InputObject { get; set; }

    /// <summary>The ids of the requests to replay.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IdSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CapturedRequestIdCompleter))]
    public long[]? Id { get; set; }

    /// <summary>With -Id: look the ids up in the captures of these tunnels only (wildcards allowed).</summary>
    [Parameter(ParameterSetName = IdSet)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(HttpTunnelNameCompleter))]
    public string[]? Tunnel { get; set; }

    /// <summary>Send to this http or https URL instead of the tunnel's local service.</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? Uri { get; set; }

    /// <summary>Send with this method instead of the captured one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Method { get; set; }

    /// <summary>Send to this path (and query) instead of the captured one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Headers to set (each replaces every field of that name); a $null value removes the header.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Header { get; set; }

    /// <summary>Send this body (a string, sent as UTF-8, or a byte array) instead of the captured one.</summary>
    [Parameter]
    [AllowEmptyString]
    public object? Body { get; set; }

    /// <summary>Accept any certificate from an https local service or -Uri.</summary>
    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>
    /// Replay requests that are themselves replays (IsReplay) too. Without it they are skipped, so that running the
    /// same line again sends what the first run sent, not also the replays that run added.
    /// </summary>
    [Parameter]
    public SwitchParameter IncludeReplay { get; set; }

    // The replays given and skipped (without -IncludeReplay: the first few, and how many), and whether anything else
    // was given: a command that was given only replays says why it sent nothing.
    private const int SkippedIdsShown = 5;
    private readonly List<TunnelRequest> _skippedReplays = [];
    private int _skippedCount;
    private bool _tookOriginal;

    /// <summary>Validates -Uri and -Body.</summary>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (Uri is not null && (!Uri.IsAbsoluteUri || Uri.Scheme is not ("http" or "https")))
        {
            ThrowInvalid($"-Uri '{Uri}' is not an absolute http or https URL.", Uri);
        }

        _ = GetBody();
    }

    /// <summary>Replays each request.</summary>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == IdSet)
        {
            foreach (long id in Id!)
            {
                TunnelRequest? request = FindById(id);
                if (request is null)
                {
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No captured request has id {id}; it may have been cleared or evicted (Get-TunnelRequest lists what is held)."),
                        ErrorIds.RequestNotFound,
                        ErrorCategory.ObjectNotFound,
                        id));
                    continue;
                }

                Replay(request);
            }

            return;
        }

        foreach (TunnelRequest request in InputObject!)
        {
            Replay(request);
        }
    }

    /// <summary>Says why nothing was sent when every request given was a replay (skipped without -IncludeReplay).</summary>
    protected override void EndProcessing()
    {
        base.EndProcessing();
        if (_tookOriginal || _skippedCount == 0)
        {
            return;
        }

        if (_skippedCount == 1)
        {
            TunnelRequest replay = _skippedReplays[0];
            WriteWarning(string.Create(CultureInfo.InvariantCulture,
                $"Sent nothing: request {replay.Id} is itself a replay (of request {replay.ReplayOf}), and replays are replayed only with -IncludeReplay. Replay the original (Invoke-TunnelReplay -Id {replay.ReplayOf}), or add -IncludeReplay."));
            return;
        }

        string more = _skippedCount > SkippedIdsShown ? ", ..." : string.Empty;
        WriteWarning(string.Create(CultureInfo.InvariantCulture,
            $"Sent nothing: the {_skippedCount} requests given (ids {string.Join(", ", _skippedReplays.Select(r => r.Id))}{more}) are themselves replays, and replays are replayed only with -IncludeReplay. Replay their originals (the ids in ReplayOf), or add -IncludeReplay."));
    }

    /// <summary>
    /// Replays of originals only: the line run again sends what it sent the first time. Notes the skipped replay for the
    /// warning at the end when nothing was sent.
    /// </summary>
    private void SkipReplay(TunnelRequest request)
    {
        if (_skippedCount++ < SkippedIdsShown)
        {
            _skippedReplays.Add(request);
        }

        WriteVerbose(string.Create(CultureInfo.InvariantCulture,
            $"Skipped request {request.Id}: it is a replay of request {request.ReplayOf}; -IncludeReplay replays replays too."));
    }

    private void Replay(TunnelRequest request)
    {
        if (request.IsReplay && !IncludeReplay)
        {
            SkipReplay(request);
            return;
        }

        _tookOriginal = true;
        if (request.IsUnparsed)
        {
            WriteError(new ErrorRecord(
                new PSInvalidOperationException($"Request {request.Id} is not HTTP (the bytes were passed through unparsed), so it cannot be replayed."),
                ErrorIds.ReplayFailed,
                ErrorCategory.InvalidData,
                request));
            return;
        }

        if (request.InspectUrl is not null)
        {
            ReplayRemote(request); // inspector: InvokeTunnelReplayCommand.Remote.cs
            return;
        }

        CaptureSource? source = (request.Store is { } held ? CaptureRegistry.Find(held) : null)
            ?? (string.IsNullOrEmpty(request.Tunnel) ? null : CaptureRegistry.Find(request.Tunnel));
        Uri? target = Uri ?? source?.LocalUri;
        if (target is null)
        {
            WriteError(new ErrorRecord(
                new PSInvalidOperationException($"Request {request.Id} came from tunnel '{request.Tunnel}', which is not known in this session, so there is no local service to send it to. Give the target with -Uri, e.g. -Uri http://localhost:3000."),
                ErrorIds.ReplayTargetUnknown,
                ErrorCategory.InvalidArgument,
                request));
            return;
        }

        CaptureStore store = source?.Store ?? CaptureRegistry.Imported;
        ReplayOptions options = BuildOptions();
        string description = Describe(request, target, options);
        if (!ShouldProcess(description, $"{description}. Send it?", "Invoke-TunnelReplay"))
        {
            return;
        }

        try
        {
            CapturedExchange replay = RunAndDrain(ct => _replayer.ReplayAsync(request.Exchange, target, store, options, ct));
            WriteObject(new TunnelRequest(replay, store));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, ErrorIds.ReplayFailed, request));
        }
    }

    private TunnelRequest? FindById(long id)
    {
        foreach (CaptureSource source in CaptureRegistry.Match(Tunnel))
        {
            if (source.Store.Get(id) is { } exchange)
            {
                return new TunnelRequest(exchange, source.Store);
            }
        }

        return Tunnel is null && CaptureRegistry.Imported.Get(id) is { } imported
            ? new TunnelRequest(imported, CaptureRegistry.Imported)
            : null;
    }

    private ReplayOptions BuildOptions()
    {
        var set = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var remove = new List<string>();
        if (Header is not null)
        {
            foreach (DictionaryEntry entry in Header)
            {
                string name = Unwrap(entry.Key)?.ToString() ?? string.Empty;
                object? value = Unwrap(entry.Value);
                if (value is null)
                {
                    remove.Add(name);
                }
                else
                {
                    set[name] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
                }
            }
        }

        byte[]? body = GetBody();
        return new ReplayOptions
        {
            Method = Method?.ToUpperInvariant(),
            Target = Path,
            SetHeaders = set.Count == 0 ? null : set,
            RemoveHeaders = remove.Count == 0 ? null : remove,
            Body = body is null ? (ReadOnlyMemory<byte>?)null : new ReadOnlyMemory<byte>(body),
            CertificateValidation = SkipCertificateCheck ? static (_, _, _, _) => true : null,
        };
    }

    private byte[]? GetBody()
    {
        if (!MyInvocation.BoundParameters.ContainsKey(nameof(Body)))
        {
            return null;
        }

        return Unwrap(Body) switch
        {
            null => [],
            string text => Encoding.UTF8.GetBytes(text),
            byte[] bytes => bytes,
            object[] items when items.All(i => Unwrap(i) is byte) => items.Select(i => (byte)Unwrap(i)!).ToArray(),
            object other => ThrowInvalid<byte[]>($"-Body takes a string or a byte array, not {other.GetType().Name}.", other),
        };
    }

    private static string Describe(TunnelRequest request, Uri target, ReplayOptions options)
    {
        HttpRequestHead head = ExchangeReplayer.BuildRequestHead(request.Exchange, target, options, out ReadOnlyMemory<byte> body);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Replay request {request.Id} ({request.Tunnel}): {head.Method} {target.GetLeftPart(UriPartial.Authority)}{head.Target}, {body.Length} byte body");
        if (options.SetHeaders is not null)
        {
            text.Append("; set ").AppendJoin(", ", options.SetHeaders.Select(h => $"{h.Key}: {h.Value}"));
        }

        if (options.RemoveHeaders is not null)
        {
            text.Append("; remove ").AppendJoin(", ", options.RemoveHeaders);
        }

        return text.ToString();
    }

    private static object? Unwrap(object? value) => value is PSObject psObject ? psObject.BaseObject : value;

    private void ThrowInvalid(string message, object target) =>
        ThrowTerminatingError(new ErrorRecord(new PSArgumentException(message), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target));

    private T ThrowInvalid<T>(string message, object target)
    {
        ThrowInvalid(message, target);
        return default!;
    }
}
