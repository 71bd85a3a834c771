using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>A fact that needs a real redis-server and redis-sentinel; skipped with the reason when one is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SentinelFactAttribute : FactAttribute
{
    public SentinelFactAttribute()
    {
        if (RedisProcess.Executable is null || SentinelProcess.Executable is null)
        {
            Skip = "redis-server or redis-sentinel is not installed, so the Sentinel test cannot run (Debian/Ubuntu: apt-get install -y redis-server redis-sentinel; .ci/run installs them).";
        }
    }
}
