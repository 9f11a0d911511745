using Cicada.Core.Topics;
using Cicada.Mqtt.Protocol;

namespace Cicada.Mqtt;

internal sealed partial class MqttConnection
{
    /// <summary>
    /// A packet the read loop owes the client. Responses are written in the order their requests
    /// arrived (MQTT-4.6.0-2..4), each only once what it acknowledges is durable.
    /// </summary>
    private readonly record struct Response(
        MqttPacketType Type,
        ushort PacketId,
        Task? Durable = null,
        byte[]? Codes = null,
        bool SessionPresent = false,
        ConnectReturnCode Code = ConnectReturnCode.Accepted,
        List<(string Filter, SubscriptionOptions Options)>? Retained = null)
    {
        public static Response Packet(MqttPacketType type, ushort packetId, Task? durable = null) =>
            new(type, packetId, durable is { IsCompletedSuccessfully: true } ? null : durable);

        public static Response ConnAck(bool sessionPresent, ConnectReturnCode code) =>
            new(MqttPacketType.ConnAck, 0, SessionPresent: sessionPresent, Code: code);
    }

    private async ValueTask WriteResponsesAsync()
    {
        if (_responses.Count == 0)
        {
            return;
        }

        // Group commit: the durable tasks of a whole read batch complete together; waiting for
        // them in order keeps acknowledgements in order.
        foreach (var response in _responses)
        {
            if (response.Durable is { } durable)
            {
                await durable;
            }
        }

        await _writeLock.WaitAsync();
        try
        {
            foreach (var response in _responses)
            {
                Write(response);
            }

            await _output.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }

        foreach (var response in _responses)
        {
            if (response.Retained is { } retained)
            {
                // Retained messages follow the SUBACK (MQTT-3.8.4-4 order, MQTT-3.3.1-6).
                foreach (var (filter, options) in retained)
                {
                    _edge.Broker.DeliverRetained(_link!, filter, options);
                }
            }
        }

        _responses.Clear();
    }

    private void Write(in Response response)
    {
        switch (response.Type)
        {
            case MqttPacketType.ConnAck:
                MqttEncoder.WriteConnAck(_output, response.SessionPresent, response.Code);
                if (response.Code == ConnectReturnCode.Accepted)
                {
                    // Nothing may precede CONNACK (MQTT-3.2.0-1): deliveries start only now.
                    _connAckSent = true;
                    ResendInflight();
                }

                break;
            case MqttPacketType.SubAck:
                MqttEncoder.WriteSubAck(_output, response.PacketId, response.Codes);
                break;
            case MqttPacketType.PingResp:
                MqttEncoder.WritePingResp(_output);
                break;
            default:
                MqttEncoder.WriteAck(_output, response.Type, response.PacketId);
                break;
        }
    }
}
