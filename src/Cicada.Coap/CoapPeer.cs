using System.Net;
using Cicada.Core.Sessions;

namespace Cicada.Coap;

/// <summary>
/// One observation (RFC 7641 §4.1): an entry in the list of observers, keyed by the client's
/// endpoint and token. Mutable state is guarded by the server's lock.
/// </summary>
internal sealed class Observation(CoapPeer peer, IPEndPoint remote, byte[] token, string filter, string path, bool confirmable,
    int blockExponent)
{
    public CoapPeer Peer { get; } = peer;
    public IPEndPoint Remote { get; } = remote;
    public byte[] Token { get; } = token;
    public string Filter { get; } = filter;

    /// <summary>The Uri-Path the client observes, for follow-up block GETs (RFC 7959 §3.4).</summary>
    public string Path { get; } = path;

    public (IPEndPoint, string) Key => (Remote, Convert.ToHexString(Token));

    /// <summary>Registered with a CON request: every notification is a CON, so a gone observer is noticed.</summary>
    public bool Confirmable { get; set; } = confirmable;

    public int BlockExponent { get; set; } = blockExponent;

    /// <summary>Observe sequence number (RFC 7641 §4.4): 24 bits, increasing per notification.</summary>
    public uint Sequence { get; set; } = 1;

    /// <summary>Its registration's response is out, so notifications may follow (RFC 7641 §4.2).</summary>
    public bool Active { get; set; }

    public bool Ended { get; set; }

    /// <summary>Message ids of recent NON notifications, so an RST to one of them deregisters (RFC 7641 §3.6).</summary>
    public ushort[] RecentNonIds { get; } = new ushort[4];

    public int NextNonSlot { get; set; }
}

/// <summary>
/// The Core session behind a client's observations: one per client id (<c>?c=</c>, else one per
/// observation). Core wakes it when deliveries are pending; draining runs as a thread-pool work
/// item, never a task or timer per peer.
/// </summary>
internal sealed class CoapPeer(CoapServer server, string clientId) : IClientConnection, IThreadPoolWorkItem
{
    private DrainSignal _drain;

    public string ClientId { get; } = clientId;

    public ClientLink? Link { get; set; }

    /// <summary>Guarded by the server's lock, as is everything below.</summary>
    public List<Observation> Observations { get; } = [];

    /// <summary>CON notifications awaiting their ACK; draining waits while one is out (NSTART = 1, RFC 7252 §4.7).</summary>
    public int Unacknowledged { get; set; }

    public DateTimeOffset LastConfirmable { get; set; }

    public bool Closed { get; set; }

    public void OnDeliveriesPending()
    {
        if (_drain.Request())
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            _drain.BeginPass();
            server.Drain(this);
            if (_drain.TryEnd())
            {
                return;
            }
        }
    }

    public void Close(CloseReason reason) => server.ClosePeer(this, reason);
}
