using System.Buffers;
using System.Text;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// An MQTTnet 5 client (the most used .NET MQTT library) speaking MQTT 3.1.1 or 3.1, with every
/// received message copied into a channel the test can await.
/// </summary>
public sealed class MqttNetClient : IAsyncDisposable
{
    private static readonly MqttClientFactory Factory = new();
    private readonly Channel<ReceivedMessage> _messages = Channel.CreateUnbounded<ReceivedMessage>();

    private MqttNetClient(IMqttClient client)
    {
        Client = client;
        Client.ApplicationMessageReceivedAsync += e =>
        {
            var message = e.ApplicationMessage;
            _messages.Writer.TryWrite(new ReceivedMessage(
                message.Topic,
                Encoding.UTF8.GetString(message.Payload.ToArray()),
                (int)message.QualityOfServiceLevel,
                message.Retain));
            return Task.CompletedTask;
        };
    }

    public IMqttClient Client { get; }

    public MqttClientConnectResult ConnectResult { get; private set; } = null!;

    public static MqttProtocolVersion ToMqttNet(MqttVersion version) => version == MqttVersion.V31 ? MqttProtocolVersion.V310 : MqttProtocolVersion.V311;

    /// <summary>Connects; the message handler is attached first, so queued session messages are not missed.</summary>
    public static async Task<MqttNetClient> ConnectAsync(
        int port, string clientId, MqttVersion version = MqttVersion.V311, bool cleanSession = true, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithProtocolVersion(ToMqttNet(version))
            .WithCleanSession(cleanSession)
            .WithTimeout(Timeouts.Connect);
        configure?.Invoke(builder);
        var client = new MqttNetClient(Factory.CreateMqttClient());
        try
        {
            using var timeout = new CancellationTokenSource(Timeouts.Connect);
            client.ConnectResult = await client.Client.ConnectAsync(builder.Build(), timeout.Token);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public async Task<MqttClientSubscribeResult> SubscribeAsync(string filter, int qos)
    {
        var options = Factory.CreateSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel((MqttQualityOfServiceLevel)qos))
            .Build();
        using var timeout = new CancellationTokenSource(Timeouts.Packet);
        return await Client.SubscribeAsync(options, timeout.Token);
    }

    /// <summary>Publishes; for QoS 1/2 this returns only once the broker acknowledged (PUBACK / PUBCOMP).</summary>
    public async Task<MqttClientPublishResult> PublishAsync(string topic, string payload, int qos, bool retain = false)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel((MqttQualityOfServiceLevel)qos)
            .WithRetainFlag(retain)
            .Build();
        using var timeout = new CancellationTokenSource(Timeouts.Packet);
        var result = await Client.PublishAsync(message, timeout.Token);
        Assert.True(result.IsSuccess, $"MQTTnet publish failed: {result.ReasonCode}");
        return result;
    }

    public async Task<ReceivedMessage> NextMessageAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeouts.Packet);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"MQTTnet received no message within {timeout ?? Timeouts.Packet}.");
        }
    }

    public async Task<List<ReceivedMessage>> NextMessagesAsync(int count, TimeSpan? timeout = null)
    {
        var messages = new List<ReceivedMessage>(count);
        using var cts = new CancellationTokenSource(timeout ?? Timeouts.ExternalClient);
        try
        {
            while (messages.Count < count)
            {
                messages.Add(await _messages.Reader.ReadAsync(cts.Token));
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"MQTTnet received {messages.Count} of {count} messages within {timeout ?? Timeouts.ExternalClient}.");
        }

        return messages;
    }

    public async Task DisconnectAsync()
    {
        if (Client.IsConnected)
        {
            using var timeout = new CancellationTokenSource(Timeouts.Packet);
            await Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), timeout.Token);
        }
    }

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        return ValueTask.CompletedTask;
    }
}
