using System.Net;
using System.Net.Sockets;
using Cicada.Coap.Protocol;
using Cicada.Core;
using Cicada.Core.Auth;
using Cicada.Core.Sessions;
using Cicada.Core.Storage;
using Cicada.Core.Topics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Coap.Tests;

/// <summary>
/// A real broker (memory store) and the real CoAP edge on a loopback UDP port, with a raw UDP
/// client speaking bytes to it: the message layer seen from the wire.
/// </summary>
internal sealed class CoapHarness : IAsyncDisposable
{
    private readonly UdpClient _client;
    private ushort _nextId = 0x4000;

    private CoapHarness(Broker broker, CoapServer server)
    {
        Broker = broker;
        Server = server;
        _client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _client.Connect(server.LocalEndPoint!);
    }

    public Broker Broker { get; }
    public CoapServer Server { get; }

    public IPEndPoint ClientEndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

    public static async Task<CoapHarness> StartAsync(bool allowAnonymous = true, Action<CoapOptions>? configure = null,
        IAuthenticator? authenticator = null)
    {
        var broker = new Broker(new MemoryBrokerStore(), Options.Create(new BrokerOptions()), new CicadaMetrics(), NullLogger<Broker>.Instance);
        await broker.LoadAsync(CancellationToken.None);
        authenticator ??= new UsersFileAuthenticator(Options.Create(new AuthOptions { AllowAnonymous = allowAnonymous }),
            NullLogger<UsersFileAuthenticator>.Instance);
        var options = new CoapOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) };
        configure?.Invoke(options);
        var server = new CoapServer(broker, authenticator, Options.Create(options), NullLogger<CoapServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        return new CoapHarness(broker, server);
    }

    public ushort NextId() => _nextId++;

    public static CoapMessage Request(CoapType type, byte code, ushort id, string path, params string[] query)
    {
        var message = new CoapMessage { Type = type, Code = code, MessageId = id, Token = new byte[] { 0x7A, (byte)id } };
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            message.Add(CoapOptionNumber.UriPath, segment);
        }

        foreach (var item in query)
        {
            message.Add(CoapOptionNumber.UriQuery, item);
        }

        return message;
    }

    public Task SendAsync(CoapMessage message) => SendAsync(CoapCodec.Encode(message));

    public async Task SendAsync(byte[] datagram) => await _client.SendAsync(datagram);

    public async Task<byte[]?> ReceiveBytesAsync(int milliseconds = 3000)
    {
        using var timeout = new CancellationTokenSource(milliseconds);
        try
        {
            return (await _client.ReceiveAsync(timeout.Token)).Buffer;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async Task<CoapMessage> ReceiveAsync(int milliseconds = 3000)
    {
        var bytes = await ReceiveBytesAsync(milliseconds) ?? throw new TimeoutException("no datagram from the server");
        Assert.Equal(CoapDecodeStatus.Ok, CoapCodec.TryDecode(bytes, out var message, out var error));
        Assert.True(error.Length == 0, error);
        return message;
    }

    /// <summary>Sends a request and returns the first reply.</summary>
    public async Task<CoapMessage> ExchangeAsync(CoapMessage request)
    {
        await SendAsync(request);
        return await ReceiveAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await Server.StopAsync(CancellationToken.None);
        Server.Dispose();
    }
}

/// <summary>A Core subscriber standing in for any other edge's client: counts what it is given.</summary>
internal sealed class CoreSubscriber : IClientConnection
{
    private readonly SemaphoreSlim _signal = new(0);

    private CoreSubscriber(Broker broker, string filter)
    {
        Link = broker.Connect("test-" + Guid.NewGuid().ToString("N"), true, false, this, null, "test", null).Link;
        broker.SubscribeAsync(Link, filter, new SubscriptionOptions(QoS.ExactlyOnce)).Wait();
    }

    public ClientLink Link { get; }

    public List<Message> Received { get; } = [];

    public static CoreSubscriber Subscribe(Broker broker, string filter) => new(broker, filter);

    public void OnDeliveriesPending() => _signal.Release();

    public void Close(CloseReason reason)
    {
    }

    /// <summary>Takes whatever is pending after waiting up to <paramref name="milliseconds"/> for a wake-up.</summary>
    public async Task<List<Message>> CollectAsync(int milliseconds = 500)
    {
        await _signal.WaitAsync(milliseconds);
        while (Link.Session.TryTakeNext(100, DateTimeOffset.UtcNow, out var delivery, out var id))
        {
            Received.Add(delivery.Message);
            if (id != 0)
            {
                Link.Session.Complete(id);
            }
        }

        return Received;
    }
}

/// <summary>The real authenticator's answer, held back until the test releases it: a slow request.</summary>
internal sealed class GatedAuthenticator : IAuthenticator
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => _gate.TrySetResult();

    public async ValueTask<AuthResult> AuthenticateAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        await _gate.Task.WaitAsync(cancellationToken);
        return AuthResult.Allowed;
    }
}
