using System.Management.Automation;

namespace TunnelPS.Errors;

/// <summary>
/// The ErrorRecord for a file an Export-* cmdlet could not write: a WriteError (PermissionDenied for access refused)
/// whose message names the file and, for a missing folder, says so instead of .NET's "Could not find a part of the path".
/// </summary>
internal static class FileWriteError
{
    /// <summary>An ErrorRecord for <paramref name="exception"/>, thrown while writing <paramref name="what"/> to <paramref name="path"/>.</summary>
    internal static ErrorRecord For(Exception exception, string what, string path, string errorId)
    {
        ArgumentNullException.ThrowIfNull(exception);
        string message = exception switch
        {
            DirectoryNotFoundException =>
                $"Cannot write {what} to '{path}': the folder '{System.IO.Path.GetDirectoryName(path)}' does not exist. Create it first, or give a -Path in an existing folder.",
            UnauthorizedAccessException =>
                $"Cannot write {what} to '{path}': access is denied. Give a -Path you may write to.",
            _ => $"Cannot write {what} to '{path}': {exception.Message}",
        };
        ErrorCategory category = exception is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError;
        return new ErrorRecord(new IOException(message, exception), errorId, category, path);
    }
}
