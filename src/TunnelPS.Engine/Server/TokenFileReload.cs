namespace TunnelPS.Engine.Server;

/// <summary>What one look at the token file did (<see cref="TenantDirectory.ReloadIfChanged"/>).</summary>
internal sealed record TokenFileReload
{
    /// <summary>Nothing to do: the file has not changed, or is still changing (it is read once it holds still).</summary>
    public static TokenFileReload None { get; } = new();

    /// <summary>The file changed and has no token list (empty, only comments): the tokens in force were kept.</summary>
    public static TokenFileReload KeptWithoutList { get; } = new() { HasNoList = true };

    /// <summary>True when the file was read and has no token list; nothing was changed.</summary>
    public bool HasNoList { get; init; }

    /// <summary>True when the file's tokens are now in force.</summary>
    public bool Applied { get; init; }

    /// <summary>The keys of tenants whose tokens are gone: their sessions must end.</summary>
    public IReadOnlyList<string> Revoked { get; init; } = [];
}
