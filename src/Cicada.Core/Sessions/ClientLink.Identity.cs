using Cicada.Core.Auth;

namespace Cicada.Core.Sessions;

public sealed partial class ClientLink
{
    /// <summary>
    /// The authenticated username (or client certificate CN); null for an anonymous client. The
    /// edge sets it right after <see cref="Broker.Connect"/>, before it handles any request.
    /// </summary>
    public string? Username { get; set; }

    /// <summary>Who this client is, as <see cref="IAuthorizer"/> asks.</summary>
    public ClientIdentity Identity => new(Username, ClientId, Protocol);
}
