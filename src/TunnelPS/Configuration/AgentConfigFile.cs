using System.Management.Automation;
using TunnelPS.Engine;
using TunnelPS.Engine.Configuration;
using TunnelPS.Errors;

namespace TunnelPS.Configuration;

/// <summary>
/// Finds and loads the agent config file for a cmdlet: -ConfigPath (relative to the current PowerShell location),
/// else <c>$env:TUNNELPS_CONFIG</c>, else <c>~/.tunnelps/tunnelps.yml</c>. Problems become the terminating
/// ConfigurationInvalid error whose message is the loader's <c>file:line:column: …</c> text.
/// </summary>
internal static class AgentConfigFile
{
    /// <summary>The full path of the config file the cmdlet uses.</summary>
    internal static string ResolvePath(PSCmdlet cmdlet, string? configPath)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        string path = AgentConfigLoader.ResolvePath(configPath);
        return string.IsNullOrWhiteSpace(configPath) ? path : cmdlet.GetUnresolvedProviderPathFromPSPath(path);
    }

    /// <summary>
    /// Loads the file; when it is missing, an empty config if <paramref name="required"/> is false, else the
    /// ObjectNotFound error.
    /// </summary>
    internal static AgentConfig Load(PSCmdlet cmdlet, string path, bool required)
    {
        try
        {
            return required ? AgentConfigLoader.Load(path) : AgentConfigLoader.LoadIfExists(path);
        }
        catch (ConfigurationException ex)
        {
            cmdlet.ThrowTerminatingError(ToErrorRecord(ex, path));
            throw;
        }
    }

    /// <summary>The ConfigurationInvalid record of a configuration problem (ObjectNotFound for a missing file).</summary>
    internal static ErrorRecord ToErrorRecord(TunnelException exception, string path) =>
        ErrorMapper.ShownSafely(new(
            exception,
            ErrorIds.ConfigurationInvalid,
            exception.Kind == TunnelErrorKind.NotFound ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidData,
            path));
}
