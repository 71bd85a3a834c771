using TunnelPS.Engine.Inspection;

namespace TunnelPS.Engine.Inspector;

/// <summary>
/// One capture store the inspector shows: a tunnel's (its name, and the local service its requests are replayed to)
/// or one without a tunnel, such as imported requests (no replay target: a replay must name one).
/// </summary>
public sealed record InspectedCapture(string Name, CaptureStore Store, Uri? ReplayTarget);
