using System.Runtime.Versioning;
using System.Security.AccessControl;
using System.Security.Principal;

namespace TunnelPS.Engine.Transport;

/// <summary>
/// Files and folders that hold secrets (the local CA's key, the inspector key, the agent config with its token): the
/// current user's alone. On Unix by their mode (700 for a folder, 600 for a file), given at creation; on Windows,
/// where there are no modes, by an access list that grants the current user alone and inherits nothing
/// (docs/platforms.md).
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="folder"/> if it does not exist, the current user's alone when it is new.</summary>
    public static void CreateFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            if (!Directory.Exists(folder))
            {
                RestrictToCurrentUser(Directory.CreateDirectory(folder));
            }
        }
        else
        {
            Directory.CreateDirectory(folder, FolderMode);
        }
    }

    /// <summary>Options that create a file readable and writable by its owner only (mode 600) on Unix.</summary>
    public static FileStreamOptions Options(FileMode mode, FileAccess access, FileShare share = FileShare.Read)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode600;
        }
        return options;
    }

    /// <summary>Makes an existing file the current user's alone: mode 600 on Unix, an access list on Windows.</summary>
    public static void Restrict(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            RestrictToCurrentUser(new FileInfo(path));
        }
        else
        {
            File.SetUnixFileMode(path, FileMode600);
        }
    }

    /// <summary>Replaces the access list with one entry: full control for the current user, nothing inherited.</summary>
    [SupportedOSPlatform("windows")]
    private static void RestrictToCurrentUser(FileSystemInfo item)
    {
        using var identity = WindowsIdentity.GetCurrent();
        var user = identity.User ?? throw new UnauthorizedAccessException("The current Windows user has no security identifier, so a private file cannot be restricted to it.");
        if (item is DirectoryInfo folder)
        {
            var security = new DirectorySecurity();
            security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
            security.AddAccessRule(new FileSystemAccessRule(user, FileSystemRights.FullControl,
                InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit, PropagationFlags.None, AccessControlType.Allow));
            folder.SetAccessControl(security);
        }
        else
        {
            var security = new FileSecurity();
            security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
            security.AddAccessRule(new FileSystemAccessRule(user, FileSystemRights.FullControl, AccessControlType.Allow));
            ((FileInfo)item).SetAccessControl(security);
        }
    }
}
