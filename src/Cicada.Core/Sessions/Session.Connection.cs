namespace Cicada.Core.Sessions;

// Read-only views of the attached connection for edges that report on other clients (the HTTP
// edge's client list, the device registry's online state). Only Core attaches and detaches links.
public sealed partial class Session
{
    /// <summary>A connection (of any protocol) is attached to this session right now.</summary>
    public bool IsConnected => Link is not null;

    /// <summary>The attached connection's link (protocol, remote end point, connected-at); null when offline.</summary>
    public ClientLink? ConnectedLink => Link;
}
