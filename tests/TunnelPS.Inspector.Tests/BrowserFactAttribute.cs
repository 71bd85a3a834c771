namespace TunnelPS.Inspector.Tests;

/// <summary>A test that needs the browser: skipped, with the reason shown in the results, when chromium is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
