namespace TunnelPS.Engine.Client;

/// <summary>How one step of a connectivity check ended.</summary>
public enum ConnectivityStepStatus
{
    /// <summary>The step worked.</summary>
    Passed,

    /// <summary>The step failed; the Hint says what to do.</summary>
    Failed,

    /// <summary>The step did not run: it does not apply (no proxy), or a step it depends on failed.</summary>
    Skipped,
}
