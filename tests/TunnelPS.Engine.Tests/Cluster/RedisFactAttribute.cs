using TunnelPS.Engine.Tests.Support;

namespace TunnelPS.Engine.Tests.Cluster;

/// <summary>A fact that needs a real redis-server; skipped with the reason when it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisProcess.Executable is null)
        {
            Skip = "redis-server is not installed, so the cluster tests cannot run (Debian/Ubuntu: apt-get install -y redis-server; .ci/run installs it).";
        }
    }
}
