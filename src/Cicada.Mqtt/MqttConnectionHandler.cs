using Microsoft.AspNetCore.Connections;

namespace Cicada.Mqtt;

/// <summary>Kestrel entry point of the MQTT edge: one call per accepted TCP (or TLS) connection.</summary>
public sealed class MqttConnectionHandler : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) => Task.CompletedTask;
}
