namespace TunnelPS.Session;

/// <summary>What <see cref="InspectorHost.Begin"/> did: the inspector's URL for the new tunnel (null: none), and a warning to show.</summary>
internal sealed record InspectorStart(Uri? Url, string? Warning);
