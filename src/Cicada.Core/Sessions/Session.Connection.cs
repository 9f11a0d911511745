namespace Cicada.Core.Sessions;

// A read-only view of the attached connection for edges that report on other clients (the HTTP
// edge's client list, the device registry's online state). Only Core attaches and detaches links.
public sealed partial class Session
{
    /// <summary>The attached connection's link (protocol, remote end point, connected-at); null when offline.</summary>
    public ClientLink? ConnectedLink => Link;
}
