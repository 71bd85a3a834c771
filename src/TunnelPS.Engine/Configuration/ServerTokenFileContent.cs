namespace TunnelPS.Engine.Configuration;

/// <summary>What a server token file holds: its tokens, and whether it says what they are at all.</summary>
/// <param name="Entries">The tokens, in file order.</param>
/// <param name="ListsTokens">
/// True when the file has a <c>tokens:</c> list, even an empty one (<c>tokens: []</c>, the one way to say "no tokens");
/// false for a file that is empty, holds only comments, or has <c>tokens:</c> with nothing under it, which is also what
/// an editor's file looks like for a moment while it is rewritten. A server that reloads such a file keeps its tokens.
/// </param>
internal sealed record ServerTokenFileContent(IReadOnlyList<ServerTokenEntry> Entries, bool ListsTokens);
