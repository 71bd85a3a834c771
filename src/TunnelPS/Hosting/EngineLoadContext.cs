using System.Reflection;
using System.Runtime.Loader;

namespace TunnelPS.Hosting;

/// <summary>
/// The private load context of the engine: <c>TunnelPS.Engine.dll</c> and every assembly
/// in the module's <c>Dependencies/</c> folder load here, so the module keeps working in a
/// session where another module already loaded a different version of one of them.
/// Anything not in that folder (the framework, System.Management.Automation) falls back
/// to the default context.
/// </summary>
/// <remarks>
/// The pattern of Microsoft's "Resolving PowerShell module assembly dependency conflicts"
/// guide. One instance per process: the context is not collectible, and loading the engine
/// twice would give two incompatible copies of its types.
/// </remarks>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    /// <summary>The folder beside TunnelPS.dll that holds the engine and its dependencies.</summary>
    internal const string DependenciesFolderName = "Dependencies";

    private static readonly Lazy<EngineLoadContext> s_instance = new(
        () => new EngineLoadContext(GetDefaultDependenciesPath()),
        LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly string _dependenciesPath;

    private EngineLoadContext(string dependenciesPath)
        : base(name: "TunnelPS.Engine", isCollectible: false)
    {
        _dependenciesPath = dependenciesPath;
    }

    /// <summary>The one engine context of this process, created on first use.</summary>
    internal static EngineLoadContext Instance => s_instance.Value;

    /// <summary>The folder this context loads from.</summary>
    internal string DependenciesPath => _dependenciesPath;

    /// <summary>Loads an assembly present in <c>Dependencies/</c>; returns null (default context) otherwise.</summary>
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (string.IsNullOrEmpty(assemblyName.Name))
        {
            return null;
        }

        string path = Path.Join(_dependenciesPath, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    private static string GetDefaultDependenciesPath()
    {
        string moduleRoot = Path.GetDirectoryName(typeof(EngineLoadContext).Assembly.Location)
            ?? throw new InvalidOperationException("TunnelPS.dll was not loaded from a file; cannot locate its Dependencies folder.");
        return Path.Join(moduleRoot, DependenciesFolderName);
    }
}
