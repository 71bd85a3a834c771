using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace TunnelPS.Hosting;

/// <summary>
/// Runs when PowerShell imports and removes the module: hooks the default load context so
/// that the first reference to <c>TunnelPS.Engine</c> from TunnelPS.dll is answered with the
/// engine loaded in <see cref="EngineLoadContext"/>.
/// </summary>
/// <remarks>
/// This class must not mention any engine type (not even in a method body it never calls):
/// the JIT would then need TunnelPS.Engine before the handler that finds it is registered.
/// It is public only because PowerShell discovers module initializers among public types.
/// </remarks>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private const string EngineAssemblyName = "TunnelPS.Engine";

    /// <summary>
    /// Stops every server and tunnel of the session; set by the session registry when it is
    /// first used (this class cannot name it: its fields are engine types).
    /// </summary>
    internal static Action? StopAllOnRemove { get; set; }

    /// <summary>Registers the resolver for the engine assembly.</summary>
    public void OnImport()
    {
        // Removing first keeps a re-import (Import-Module -Force) from registering twice.
        AssemblyLoadContext.Default.Resolving -= ResolveEngine;
        AssemblyLoadContext.Default.Resolving += ResolveEngine;
    }

    /// <summary>Stops what the session started, then unregisters the resolver; engine types already loaded stay loaded.</summary>
    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        try
        {
            StopAllOnRemove?.Invoke();
        }
        finally
        {
            AssemblyLoadContext.Default.Resolving -= ResolveEngine;
        }
    }

    /// <summary>Answers only for TunnelPS.Engine; every other name is left to the runtime and other handlers.</summary>
    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName assemblyName)
    {
        if (!string.Equals(assemblyName.Name, EngineAssemblyName, StringComparison.Ordinal))
        {
            return null;
        }

        // Without the file, let the runtime report TunnelPS.Engine as not found rather than
        // asking the engine context, whose fallback is the default context again.
        EngineLoadContext engineContext = EngineLoadContext.Instance;
        if (!File.Exists(Path.Join(engineContext.DependenciesPath, EngineAssemblyName + ".dll")))
        {
            return null;
        }

        return engineContext.LoadFromAssemblyName(assemblyName);
    }
}
