using System.Text;
using System.Text.Json.Nodes;
using Cicada.Core;

namespace Cicada.Devices;

/// <summary>
/// Availability: the broker's connect/disconnect notifications (any protocol) drive each device's
/// online state, its exact <c>last_seen</c>, the retained <c>{root}/availability</c>
/// (<c>online</c>/<c>offline</c>, Home Assistant's default payloads) and the JSON events on
/// <c>$devices/events</c>.
/// </summary>
public sealed partial class DeviceRegistry : IClientObserver
{
    /// <summary>Where registry changes and availability changes are announced, as JSON.</summary>
    public const string EventsTopic = "$devices/events";

    public const string OnlinePayload = "online";
    public const string OfflinePayload = "offline";

    public void OnClientEvent(ClientEvent clientEvent)
    {
        lock (_lock)
        {
            if (_devices.TryGetValue(clientEvent.ClientId, out var entry))
            {
                Reevaluate(entry, clientEvent.At, clientEvent);
            }

            if (_byGateway.TryGetValue(clientEvent.ClientId, out var behind))
            {
                foreach (var id in behind)
                {
                    Reevaluate(_devices[id], clientEvent.At, clientEvent);
                }
            }
        }
    }

    /// <summary>
    /// Online: its own client, or its gateway's, is connected; or the availability topic it
    /// announced holds <c>online</c> (Home Assistant's default) or <c>ready</c> (Homie 4's <c>$state</c>). Read live, so events arriving out of order (a takeover's
    /// old connection ending after the new one began) cannot leave a wrong state.
    /// </summary>
    private bool ComputeOnline(Entry entry)
    {
        var r = entry.Record;
        if (IsConnected(r.Identifier) || (r.ControllerGateway != r.Identifier && IsConnected(r.ControllerGateway)))
        {
            return true;
        }

        return entry.Topics.AnnouncedAvailabilityTopic is { } topic
            && broker.Retained.Get(topic) is { } retained
            && (retained.Payload.Span.SequenceEqual("online"u8) || retained.Payload.Span.SequenceEqual("ready"u8)); // Homie 4 $state
    }

    /// <summary>Applies a change of online state (under the lock): last_seen, availability, event.</summary>
    private void Reevaluate(Entry entry, DateTimeOffset at, ClientEvent? cause)
    {
        var online = ComputeOnline(entry);
        if (online == entry.WasOnline)
        {
            return;
        }

        entry.WasOnline = online;
        entry.Record = entry.Record with { LastSeen = at };
        store.SaveDeviceAsync(entry.Record).Forget();
        PublishAvailability(entry);

        // Offline because its gateway left: the device is unreachable rather than gone.
        var viaGateway = cause is { } c && c.ClientId != entry.Record.Identifier;
        var name = online ? "online" : viaGateway ? "unreachable" : "offline";
        PublishEvent(name, entry.Record.Identifier, w =>
        {
            w["at"] = DeviceJson.Time(at);
            if (cause is { } e)
            {
                w["client_id"] = e.ClientId;
                w["protocol"] = e.Protocol;
                if (!e.Connected)
                {
                    w["clean"] = !e.Abnormal;
                }
            }
        });
    }

    private void PublishAvailability(Entry entry)
    {
        if (entry.Topics.BrokerOwnsAvailability)
        {
            Publish(entry.Topics.AvailabilityTopic, entry.WasOnline ? OnlinePayload : OfflinePayload, retain: true);
        }
    }

    private void PublishEvent(string name, DeviceView view) =>
        PublishEvent(name, view.Record.Identifier, w => w["device"] = DeviceJson.ToJson(view));

    private void PublishEvent(string name, string identifier, Action<JsonObject>? fill)
    {
        var json = new JsonObject { ["event"] = name, ["identifier"] = identifier, ["at"] = DeviceJson.Time(broker.Time.GetUtcNow()) };
        fill?.Invoke(json);
        Publish(EventsTopic, json.ToJsonString(), retain: false, "application/json");
    }

    /// <summary>
    /// Publishes a broker-made message at QoS 1 (under the registry lock, so availability
    /// changes reach the topic in the order they happened).
    /// </summary>
    private void Publish(string topic, string payload, bool retain, string? contentType = null)
    {
        var properties = contentType is null ? null : new MessageProperties { ContentType = contentType, PayloadIsUtf8 = true };
        broker.PublishAsync(new Message(topic, Encoding.UTF8.GetBytes(payload), QoS.AtLeastOnce, retain, properties)).Forget();
    }

    /// <summary>The devices behind one gateway, sorted, with whether the gateway itself is connected.</summary>
    public (bool GatewayOnline, List<DeviceView> Devices) Gateway(string gateway)
    {
        var list = List(null, gateway, null);
        list.RemoveAll(v => v.Record.Identifier == gateway);
        return (IsConnected(gateway), list);
    }
}
