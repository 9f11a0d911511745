using System.Text.Json.Serialization;

namespace Cicada.Amqp.Routing;

internal sealed partial class VirtualHost
{
    /// <summary>
    /// Source-generated JSON for the topology records, so the broker builds with Native AOT
    /// (scripts/publish). Default options: the same JSON the reflection serializer wrote, so
    /// records stored by earlier builds still load.
    /// </summary>
    [JsonSerializable(typeof(ExchangeRecord))]
    [JsonSerializable(typeof(QueueRecord))]
    [JsonSerializable(typeof(BindingRecord))]
    [JsonSerializable(typeof(ExchangeBindingRecord))]
    [JsonSerializable(typeof(string[]))]
    private sealed partial class TopologyJson : JsonSerializerContext;
}
