namespace Cicada.Interop.Tests.Infrastructure;

/// <summary>
/// One broker process shared by every test of a class (xUnit class fixture). Tests sharing it use
/// unique topics and client ids (<see cref="TestNames"/>), so they cannot see each other.
/// </summary>
public class BrokerFixture : IAsyncLifetime
{
    private BrokerProcess? _broker;

    public BrokerProcess Broker => _broker ?? throw new InvalidOperationException("The broker has not started.");

    public int Port => Broker.Port;

    protected virtual BrokerSettings Settings => new();

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync(Settings);

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
    }
}

/// <summary>A broker whose maximum packet size is 1024 bytes, for the oversized-packet rule.</summary>
public sealed class SmallPacketBrokerFixture : BrokerFixture
{
    public const int MaxPacketSize = 1024;

    protected override BrokerSettings Settings => new() { MaxPacketSize = MaxPacketSize };
}

/// <summary>A broker that sends topic aliases to v5 clients that allow them (off by default).</summary>
public sealed class OutboundAliasBrokerFixture : BrokerFixture
{
    protected override BrokerSettings Settings => new() { OutboundTopicAliases = true };
}

/// <summary>A broker that accepts keep-alives up to 60 s (paho's interoperability test broker's setting).</summary>
public sealed class KeepAliveCapBrokerFixture : BrokerFixture
{
    public const int MaxKeepAliveSeconds = 60;

    protected override BrokerSettings Settings => new() { MaxKeepAliveSeconds = MaxKeepAliveSeconds };
}

/// <summary>A broker that refuses anonymous clients and knows two users from its users file.</summary>
public sealed class AuthBrokerFixture : BrokerFixture
{
    public const string User = "alice";
    public const string Password = "correct horse";
    public const string OtherUser = "bob";
    public const string OtherPassword = "battery staple";

    protected override BrokerSettings Settings => new()
    {
        AllowAnonymous = false,
        Users = new Dictionary<string, string> { [User] = Password, [OtherUser] = OtherPassword },
    };
}
