using System.Runtime.Versioning;
using System.Security.AccessControl;
using System.Security.Principal;
using TunnelPS.Engine.Transport;

namespace TunnelPS.Engine.Tests.Transport;

/// <summary>A fact that runs only on Windows (the access-list guard of <see cref="PrivateFiles"/>); skipped, saying so, elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class WindowsFactAttribute : FactAttribute
{
    public WindowsFactAttribute()
    {
        if (!OperatingSystem.IsWindows())
        {
            Skip = "Windows only: private files get an access list there, since Windows has no Unix modes (no Windows machine runs this suite in CI).";
        }
    }
}

/// <summary>A fact that runs everywhere but Windows (Unix modes); skipped, saying so, on Windows.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "Unix modes do not exist on Windows; the Windows fact checks the access list there.";
        }
    }
}

public sealed class PrivateFilesTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tunnelps-private-" + Guid.NewGuid().ToString("N"));

    [UnixFact]
    [UnsupportedOSPlatform("windows")]
    public void On_unix_a_new_folder_is_700_and_a_new_or_restricted_file_600()
    {
        var inner = Path.Combine(_folder, "inner");
        PrivateFiles.CreateFolder(inner);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(inner));

        var created = Path.Combine(inner, "key");
        using (var stream = new FileStream(created, PrivateFiles.Options(FileMode.Create, FileAccess.Write)))
        {
            stream.WriteByte(1);
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(created));

        var loose = Path.Combine(inner, "loose");
        File.WriteAllText(loose, "x");
        File.SetUnixFileMode(loose, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        PrivateFiles.Restrict(loose);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(loose));
    }

    [WindowsFact]
    public void On_windows_a_restricted_file_grants_the_current_user_alone_and_inherits_nothing()
    {
        if (!OperatingSystem.IsWindows())
        {
            return; // unreachable: the attribute skips the test elsewhere (and the analyzer needs the guard)
        }
        PrivateFiles.CreateFolder(_folder);
        var path = Path.Combine(_folder, "key");
        File.WriteAllText(path, "x");
        PrivateFiles.Restrict(path);
        AssertCurrentUserAlone(path);
    }

    [SupportedOSPlatform("windows")]
    private static void AssertCurrentUserAlone(string path)
    {
        var security = new FileInfo(path).GetAccessControl();
        Assert.True(security.AreAccessRulesProtected);
        var rules = security.GetAccessRules(includeExplicit: true, includeInherited: true, typeof(SecurityIdentifier)).Cast<FileSystemAccessRule>().ToList();
        using var identity = WindowsIdentity.GetCurrent();
        var rule = Assert.Single(rules);
        Assert.Equal(identity.User, rule.IdentityReference);
        Assert.Equal(AccessControlType.Allow, rule.AccessControlType);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
