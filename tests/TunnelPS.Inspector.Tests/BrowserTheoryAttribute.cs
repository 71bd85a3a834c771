namespace TunnelPS.Inspector.Tests;

/// <summary>A theory that needs the browser: skipped, with the reason shown in the results, when chromium is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserTheoryAttribute : TheoryAttribute
{
    public BrowserTheoryAttribute()
    {
        if (Chromium.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
