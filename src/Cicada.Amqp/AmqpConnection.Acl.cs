using Cicada.Core.Auth;

namespace Cicada.Amqp;

internal sealed partial class AmqpConnection
{
    /// <summary>The user the handshake authenticated; null for the anonymous client (no user, or guest/guest admitted as anonymous).</summary>
    public string? Username { get; private set; }

    /// <summary>
    /// Who this connection is to the ACL. AMQP has no client id: the peer's address stands in for
    /// it, so <c>%c</c> patterns grant an AMQP client nothing while <c>%u</c> ones work as over MQTT.
    /// </summary>
    public ClientIdentity Identity => _identity ??= new(Username, "amqp:" + Remote, "amqp"); // asked per publish: built once

    private ClientIdentity? _identity;
}
