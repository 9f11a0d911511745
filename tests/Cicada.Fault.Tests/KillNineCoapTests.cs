using System.Globalization;
using Cicada.Fault.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cicada.Fault.Tests;

/// <summary>
/// <c>kill -9</c> of the broker while a CoAP client publishes with CON requests (RFC 7252 §4.2),
/// and a restart on the same SQLite data folder. A 2.xx response to a CON POST/PUT is CoAP's
/// acknowledgement of a publish (DESIGN.md "Durability": the ACK of a CON is sent only once the
/// message is on disk), so every acknowledged POST is queued for the persistent MQTT session that
/// subscribes, and the retained value of the PUT topic is the last acknowledged PUT or a later one
/// the broker stored but could not answer. Each kill lands right behind a request, so the broker
/// dies before, while or after handling it.
/// </summary>
public sealed class KillNineCoapTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(51)]
    [InlineData(52)]
    public async Task Acknowledged_CON_publishes_survive_kill_9_RFC7252_4_2(int seed)
    {
        const int count = 150;
        var random = new Random(seed);
        var first = random.Next(10, count / 2);
        int[] killPoints = [first, random.Next(first + 10, count - 10)];
        await using var server = await CicadaProcess.StartAsync(new ServerSettings { Coap = true });
        var topic = $"coapfault/{Guid.NewGuid():N}";
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"coap-sub-{seed}", 5, clean: false, sessionExpiry: 3600))
        {
            await subscriber.SubscribeAsync(topic + "/q", 1);
            await subscriber.DisconnectAsync();
        }

        using var coap = new CoapWireClient(server.CoapPort);
        var ackedPosts = new List<string>();
        int lastAckedPut = -1, lastSentPut = -1, acked = 0, crashes = 0;
        for (var i = 0; i < count;)
        {
            // Every tenth message a PUT of the retained value (it retains, RFC 7252 §5.8.3), else a POST to the queue topic.
            var put = i % 10 == 9;
            var path = put ? $"ps/{topic}/v" : $"ps/{topic}/q";
            var payload = $"p{i:D4}";
            lastSentPut = put ? i : lastSentPut;
            CoapReply? reply;
            var crash = crashes < killPoints.Length && acked >= killPoints[crashes];
            if (crash)
            {
                var (messageId, token) = await coap.SendAsync(put ? CoapWireClient.Put : CoapWireClient.Post, path, payload);
                await server.KillAsync();
                reply = await coap.ReceiveReplyAsync(messageId, token, TimeSpan.FromMilliseconds(500));
            }
            else
            {
                reply = await coap.RequestAsync(put ? CoapWireClient.Put : CoapWireClient.Post, path, payload);
                Assert.True(reply is { IsSuccess: true }, $"CON {payload} answered {reply?.ToString() ?? "nothing"}.\n{server.Output}");
            }

            if (reply is { IsSuccess: true })
            {
                acked++;
                if (put)
                {
                    lastAckedPut = i;
                }
                else
                {
                    ackedPosts.Add(payload);
                }

                i++;
            }

            if (crash)
            {
                crashes++;
                await server.StartAsync();
                if (lastAckedPut >= 0)
                {
                    var value = await coap.RequestAsync(CoapWireClient.Get, $"ps/{topic}/v");
                    Assert.True(value is { Code: CoapReply.Content }, $"GET of the retained value answered {value?.ToString() ?? "nothing"}.\n{server.Output}");
                    var index = int.Parse(value!.Payload.AsSpan(1), CultureInfo.InvariantCulture);
                    Assert.True(index >= lastAckedPut && index <= lastSentPut,
                        $"Retained value {value.Payload} after the crash; the last acknowledged PUT was p{lastAckedPut:D4}.");
                }
            }
        }

        var receiver = new MqttReceiver();
        await using (var subscriber = await WireClient.ConnectAsync(server.MqttPort, $"coap-sub-{seed}", 5, clean: false, sessionExpiry: 3600))
        {
            Assert.True(subscriber.SessionPresent, $"The subscriber's session did not survive kill -9.\n{server.Output}");
            await KillNineMqttTests.ReceiveAsync(subscriber, receiver, ackedPosts.Count);
        }

        output.WriteLine($"seed {seed}: {crashes} crashes after {string.Join(", ", killPoints)} acks; {ackedPosts.Count} POSTs acknowledged, " +
            $"{receiver.Delivered.Count} delivered ({receiver.Delivered.Distinct().Count()} distinct); last acknowledged PUT p{lastAckedPut:D4}");
        Assert.Equal(2, crashes);
        KillNineMqttTests.AssertDelivered(ackedPosts, receiver.Delivered, qos: 1);
    }
}
