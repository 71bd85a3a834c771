namespace TunnelPS;

/// <summary>How one step of Test-TunnelConnectivity ended.</summary>
public enum TunnelConnectivityStatus
{
    /// <summary>The step worked.</summary>
    Passed,

    /// <summary>The step failed; Hint says what to do.</summary>
    Failed,

    /// <summary>The step did not run: it does not apply (no proxy), or a step it depends on failed.</summary>
    Skipped,
}
