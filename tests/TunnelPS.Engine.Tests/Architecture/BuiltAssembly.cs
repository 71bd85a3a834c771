using System.Reflection;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>Where the built engine and module assemblies are, in the configuration these tests were built in.</summary>
internal static class BuiltAssembly
{
    /// <summary>TunnelPS.Engine.dll as these tests load it.</summary>
    public static string Engine() => typeof(TunnelException).Assembly.Location;

    /// <summary>TunnelPS.dll in src/TunnelPS/bin (the test project builds it first, without referencing it).</summary>
    public static string Module()
    {
        var configuration = typeof(BuiltAssembly).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var path = Path.Combine(RepositoryRoot(), "src", "TunnelPS", "bin", configuration, "net8.0", "TunnelPS.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"The module is not built at {path}: run dotnet build TunnelPS.sln -c {configuration} first.", path);
    }

    /// <summary>The folder that holds TunnelPS.sln, above the test's output folder.</summary>
    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TunnelPS.sln")))
            {
                return folder.FullName;
            }
        }
        throw new DirectoryNotFoundException("TunnelPS.sln was not found above " + AppContext.BaseDirectory);
    }
}
