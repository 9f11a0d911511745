namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>MQTT 5 flows on top of <see cref="RawMqttClient"/>: connect, subscribe, publish and receive with properties.</summary>
public static class V5Client
{
    public static async Task<(RawMqttClient Client, V5ConnAck ConnAck)> ConnectAsync(int port, V5Connect options)
    {
        var client = await RawMqttClient.OpenAsync(port);
        try
        {
            await client.SendAsync(V5Packets.Connect(options));
            return (client, V5ConnAck.From(await client.ReadPacketAsync(PacketType.ConnAck)));
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connects and asserts CONNACK reason 0x00 Success.</summary>
    public static async Task<RawMqttClient> ConnectAcceptedAsync(int port, V5Connect options)
    {
        var (client, connAck) = await ConnectAsync(port, options);
        Assert.True(connAck.Reason == 0, $"CONNACK reason 0x{connAck.Reason:X2}");
        return client;
    }

    public static Task<RawMqttClient> ConnectAcceptedAsync(int port, string clientId) =>
        ConnectAcceptedAsync(port, new V5Connect { ClientId = clientId });

    /// <summary>Subscribes and returns the SUBACK's reason codes (§3.9.3).</summary>
    public static async Task<byte[]> SubscribeV5Async(this RawMqttClient client, int? subscriptionId, params (string Filter, byte Options)[] filters)
    {
        var id = client.NextPacketId();
        await client.SendAsync(V5Packets.Subscribe(id, subscriptionId, filters));
        var subAck = await client.ReadPacketSkippingAsync(PacketType.SubAck);
        Assert.Equal(id, subAck.PacketId);
        return subAck.V5ReasonCodes();
    }

    public static Task<byte[]> SubscribeV5Async(this RawMqttClient client, string filter, int qos = 1, int? subscriptionId = null) =>
        client.SubscribeV5Async(subscriptionId, (filter, V5Packets.Options(qos)));

    /// <summary>Publishes and completes the QoS flow; returns the PUBACK/PUBREC reason (0 for QoS 0).</summary>
    public static async Task<byte> PublishV5Async(this RawMqttClient client, string topic, string payload, int qos = 0, bool retain = false, V5Props? props = null)
    {
        var id = qos > 0 ? client.NextPacketId() : (ushort)0;
        await client.SendAsync(V5Packets.Publish(topic, System.Text.Encoding.UTF8.GetBytes(payload), qos, id, retain, dup: false, props));
        if (qos == 0)
        {
            return 0;
        }

        var ack = await client.ReadPacketSkippingAsync(qos == 1 ? PacketType.PubAck : PacketType.PubRec);
        Assert.Equal(id, ack.PacketId);
        if (qos == 2 && ack.AckReason() < 0x80)
        {
            await client.SendAsync(MqttPackets.PubRel(id));
            var pubComp = await client.ReadPacketSkippingAsync(PacketType.PubComp);
            Assert.Equal(id, pubComp.PacketId);
        }

        return ack.AckReason();
    }

    /// <summary>Reads the next PUBLISH without acknowledging it.</summary>
    public static async Task<V5Publish> ReadV5PublishAsync(this RawMqttClient client, TimeSpan? timeout = null) =>
        V5Publish.From(await client.ReadPacketSkippingAsync(PacketType.Publish, timeout));

    /// <summary>Reads the next PUBLISH and completes the receiver's side of its QoS flow.</summary>
    public static async Task<V5Publish> ReceiveV5Async(this RawMqttClient client, TimeSpan? timeout = null)
    {
        var publish = await client.ReadV5PublishAsync(timeout);
        await client.AcknowledgeAsync(publish);
        return publish;
    }

    public static async Task AcknowledgeAsync(this RawMqttClient client, V5Publish publish)
    {
        if (publish.QoS == 1)
        {
            await client.SendAsync(MqttPackets.PubAck(publish.PacketId));
        }
        else if (publish.QoS == 2)
        {
            await client.SendAsync(MqttPackets.PubRec(publish.PacketId));
            var pubRel = await client.ReadPacketSkippingAsync(PacketType.PubRel);
            Assert.Equal(publish.PacketId, pubRel.PacketId);
            await client.SendAsync(MqttPackets.PubComp(publish.PacketId));
        }
    }

    /// <summary>Receives (and acknowledges) until a PUBLISH on <paramref name="sentinelTopic"/>; returns those before it (ordered delivery, MQTT-4.6.0-6).</summary>
    public static async Task<List<V5Publish>> ReceiveV5UntilAsync(this RawMqttClient client, string sentinelTopic, TimeSpan? timeout = null)
    {
        var before = new List<V5Publish>();
        while (true)
        {
            var publish = await client.ReceiveV5Async(timeout);
            if (publish.Topic == sentinelTopic)
            {
                return before;
            }

            before.Add(publish);
        }
    }

    /// <summary>
    /// Waits for the broker to close the connection and asserts it said why first: a DISCONNECT
    /// with <paramref name="reason"/> (§4.13), after any other packets. §4.13.2 lets a server close
    /// without one ("MAY send"); Cicada always sends it, mosquitto 2.0.11 often does not, so on
    /// mosquitto only a DISCONNECT that is sent must carry the reason.
    /// </summary>
    public static async Task ExpectDisconnectAsync(this RawMqttClient client, byte reason, TimeSpan? timeout = null)
    {
        var packets = await client.ExpectClosedAsync(timeout);
        var disconnect = packets.LastOrDefault(p => p.Type == PacketType.Disconnect);
        if (disconnect is null && BrokerProcess.IsMosquitto)
        {
            return;
        }

        Assert.True(disconnect is not null, $"The broker closed without a DISCONNECT; it sent [{string.Join(", ", packets)}].");
        Assert.True(disconnect.DisconnectReason() == reason,
            $"Expected DISCONNECT 0x{reason:X2} but got 0x{disconnect.DisconnectReason():X2}; packets [{string.Join(", ", packets)}].");
    }
}

/// <summary>Where mosquitto 2.0.11 deviates from MQTT 5.0 (or leaves out an optional feature), the test is skipped on mosquitto only, with the reason.</summary>
public static class V5Deviation
{
    public static void SkipOnMosquitto(string reason) =>
        Skip.If(BrokerProcess.IsMosquitto, $"mosquitto 2.0.11 deviates from MQTT 5.0 here: {reason}");

    public static void OptionalOnMosquitto(string feature) =>
        Skip.If(BrokerProcess.IsMosquitto, $"mosquitto 2.0.11 does not implement this optional MQTT 5.0 behaviour: {feature}");
}
