namespace TunnelPS.Engine.Tests.Transport;

/// <summary>A fact that needs the real tinyproxy binary and bash; skipped with the reason when they are missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class TinyproxyFactAttribute : FactAttribute
{
    public TinyproxyFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "The real-proxy tests run tinyproxy through tests/TestSupport/start-tinyproxy.sh, which needs Linux or macOS.";
        }
        else if (TinyproxyProcess.FindOnPath("tinyproxy") is null)
        {
            Skip = "tinyproxy is not installed, so the real-proxy tests cannot run (Debian/Ubuntu: apt-get install -y tinyproxy).";
        }
        else if (TinyproxyProcess.FindOnPath("bash") is null)
        {
            Skip = "bash is not on PATH; tests/TestSupport/start-tinyproxy.sh needs it.";
        }
    }
}
