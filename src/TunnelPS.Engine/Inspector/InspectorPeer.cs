namespace TunnelPS.Engine.Inspector;

/// <summary>Who a connection to the inspector comes from, as far as the platform tells.</summary>
internal enum InspectorPeerKind
{
    /// <summary>The platform does not tell (not Linux, or the peer's socket is not listed): the key decides.</summary>
    Unknown,

    /// <summary>A process of the user who started the inspector (or of root, who can read its memory anyway).</summary>
    SameUser,

    /// <summary>A process of another user: refused whatever it sends.</summary>
    OtherUser,
}

/// <summary>The owner of a connection's peer socket: its kind, and the uid where one was found.</summary>
internal readonly record struct InspectorPeer(InspectorPeerKind Kind, uint? Uid)
{
    public static InspectorPeer Unknown { get; } = new(InspectorPeerKind.Unknown, null);
}
