using System.Text;
using Cicada.Amqp.Protocol;
using Cicada.Amqp.Routing;
using Cicada.Core.Auth;

namespace Cicada.Amqp;

/// <summary>Channel 0: Start/StartOk, Tune/TuneOk, Open, Close (§connection, §4.2.2 handshake).</summary>
internal sealed partial class AmqpConnection
{
    private void WriteStart()
    {
        var capabilities = new Dictionary<string, object?>
        {
            // What RabbitMQ clients look for before using an extension.
            ["publisher_confirms"] = true,
            ["basic.nack"] = true,
            ["consumer_cancel_notify"] = true,
            ["exchange_exchange_bindings"] = true,
            ["connection.blocked"] = true,
            ["authentication_failure_close"] = true,
            ["per_consumer_qos"] = true,
            ["direct_reply_to"] = false,
            ["consumer_priorities"] = false,
        };
        var properties = new Dictionary<string, object?>
        {
            ["product"] = "Cicada",
            ["version"] = typeof(AmqpConnection).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            ["platform"] = ".NET",
            ["information"] = "Cicada multi-protocol IoT broker: amq.topic is the MQTT topic space",
            ["capabilities"] = capabilities,
        };

        Out.BeginMethod(0, Method.ConnectionStart);
        Out.WriteOctet(0); // version-major
        Out.WriteOctet(9); // version-minor
        Out.WriteTable(properties);
        // EXTERNAL (RFC 4422 Appendix A) only when a client certificate already names the user, as
        // RabbitMQ's rabbitmq_auth_mechanism_ssl offers it.
        Out.WriteLongString(CertificateUser is null ? "PLAIN AMQPLAIN" : "EXTERNAL PLAIN AMQPLAIN");
        Out.WriteLongString("en_US");
        Out.EndFrame();
        _state = State.AwaitingStartOk;
    }

    private string? HandleConnectionMethod(uint method, ref AmqpReader reader)
    {
        if (_state == State.Closing)
        {
            // §connection.close: after sending close, discard everything but close and close-ok.
            if (method == Method.ConnectionCloseOk)
            {
                return "closed after a connection error";
            }

            if (method == Method.ConnectionClose)
            {
                Out.Method0(0, Method.ConnectionCloseOk);
                return "closed after a connection error";
            }

            return null;
        }

        switch (method)
        {
            case Method.ConnectionStartOk when _state == State.AwaitingStartOk:
                return HandleStartOk(ref reader);
            case Method.ConnectionTuneOk when _state == State.AwaitingTuneOk:
                HandleTuneOk(ref reader);
                return null;
            case Method.ConnectionOpen when _state == State.AwaitingOpen:
                HandleOpen(ref reader);
                return null;
            case Method.ConnectionClose:
                // §connection.close: the client closes; reply close-ok and the socket ends.
                Out.Method0(0, Method.ConnectionCloseOk);
                return ClientClosed;
            case Method.ConnectionCloseOk:
                return Throw.Connection<string?>(ReplyCode.CommandInvalid, "connection.close-ok without connection.close", method);
            case Method.ConnectionBlocked or Method.ConnectionUnblocked:
                return null;
            default:
                return Throw.Connection<string?>(ReplyCode.CommandInvalid,
                    $"unexpected method {Method.Class(method)}.{Method.Id(method)} on channel 0 in state {_state}", method);
        }
    }

    private string? HandleStartOk(ref AmqpReader reader)
    {
        var clientProperties = reader.ReadTable();
        var mechanism = reader.ReadShortString();
        var response = reader.ReadLongStringBytes();
        reader.ReadShortString(); // locale

        if (clientProperties.TryGetValue("capabilities", out var caps) && caps is Dictionary<string, object?> capabilities)
        {
            CancelNotify = capabilities.TryGetValue("consumer_cancel_notify", out var notify) && notify is true;
            BlockedNotify = capabilities.TryGetValue("connection.blocked", out var blocked) && blocked is true;
        }

        if (_lease is null && _edge.Limiter is not null)
        {
            // The limiter logged the line and counted it; the client hears why before the socket closes.
            return FailConnection(new AmqpException(ReplyCode.NotAllowed,
                "connection refused: connection limit reached (Limits:MaxConnections / MaxConnectionsPerIp)", Method.ConnectionStartOk,
                connectionLevel: true), drain: false, log: false);
        }

        string? user;
        byte[]? password;
        switch (mechanism)
        {
            case "PLAIN":
                // RFC 4616: [authzid] NUL authcid NUL passwd.
                var first = response.IndexOf((byte)0);
                var second = first < 0 ? -1 : response[(first + 1)..].IndexOf((byte)0);
                if (second < 0)
                {
                    return Throw.Connection<string?>(ReplyCode.AccessRefused, "PLAIN response is not authzid NUL user NUL password", Method.ConnectionStartOk);
                }

                user = Encoding.UTF8.GetString(response.Slice(first + 1, second));
                password = response[(first + 2 + second)..].ToArray();
                break;
            case "AMQPLAIN":
                // RabbitMQ's AMQPLAIN: a field table body (no length prefix) with LOGIN and PASSWORD.
                var table = AmqpReader.ReadTableBody(response);
                user = table.GetValueOrDefault("LOGIN") as string;
                password = table.GetValueOrDefault("PASSWORD") switch
                {
                    string s => Encoding.UTF8.GetBytes(s),
                    byte[] b => b,
                    _ => null,
                };
                break;
            case "EXTERNAL":
                // RFC 4422 Appendix A: the TLS client certificate is the credential; the response
                // is an optional authorization identity, which may only be the certificate's own user.
                user = CertificateUser;
                password = null;
                if (user is null || (response.Length > 0 && Encoding.UTF8.GetString(response) != user))
                {
                    AmqpLog.LoginRefused(_edge.Logger, Remote, user ?? Encoding.UTF8.GetString(response), mechanism);
                    return FailConnection(new AmqpException(ReplyCode.AccessRefused,
                        "EXTERNAL needs a client certificate whose CN is the username, and no other identity.", Method.ConnectionStartOk, connectionLevel: true), drain: false);
                }

                break;
            default:
                return Throw.Connection<string?>(ReplyCode.CommandInvalid, $"unknown authentication mechanism '{mechanism}'", Method.ConnectionStartOk);
        }

        // A certificate whose CN is the username is the credential whatever the mechanism (as the
        // MQTT edge ignores the CONNECT username then): a client sending PLAIN guest/guest over
        // mutual TLS is the certificate's user.
        if (CertificateUser is { } certificateUser)
        {
            user = certificateUser;
            Username = certificateUser; // the ACL's user, as for a password login
        }
        else if (Authenticate(user, password) != AuthResult.Allowed)
        {
            AmqpLog.LoginRefused(_edge.Logger, Remote, user ?? string.Empty, mechanism);
            // RabbitMQ's authentication_failure_close: a 403 connection.close, then the socket closes.
            return FailConnection(new AmqpException(ReplyCode.AccessRefused,
                $"Login was refused using authentication mechanism {mechanism}.", Method.ConnectionStartOk, connectionLevel: true), drain: false);
        }

        _user = string.IsNullOrEmpty(user) ? "(anonymous)" : user;
        Out.BeginMethod(0, Method.ConnectionTune);
        Out.WriteShort((ushort)Math.Clamp(_edge.Options.ChannelMax, 1, ushort.MaxValue));
        Out.WriteLong((uint)Math.Max(FrameType.MinFrameMax, _edge.Options.FrameMax));
        Out.WriteShort((ushort)Math.Clamp(_edge.Options.HeartbeatSeconds, 0, ushort.MaxValue));
        Out.EndFrame();
        _state = State.AwaitingTuneOk;
        return null;
    }

    /// <summary>
    /// The same users as every other edge. AMQP clients always send credentials and default to
    /// guest/guest (RabbitMQ's default user): an empty user, or guest/guest when no such user
    /// exists, is the anonymous client, admitted when anonymous access is allowed.
    /// </summary>
    private AuthResult Authenticate(string? user, byte[]? password)
    {
        if (string.IsNullOrEmpty(user))
        {
            return Check(null, null);
        }

        if (user == "guest" && password is not null && password.AsSpan().SequenceEqual("guest"u8) && Check(null, null) == AuthResult.Allowed)
        {
            return AuthResult.Allowed;
        }

        var result = Check(user, password);
        if (result == AuthResult.Allowed)
        {
            Username = user; // the ACL's user; guest/guest above stays the anonymous client
        }

        return result;

        AuthResult Check(string? u, byte[]? p)
        {
            var request = new AuthRequest("amqp", u, p is null ? null : new ReadOnlyMemory<byte>(p), "amqp", Remote);
            var pending = _edge.Authenticator.AuthenticateAsync(request, _context.ConnectionClosed);

            // The users-file authenticator answers synchronously; an asynchronous one blocks only this handshake.
            return pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The username a validated client certificate stands for (TLS listener, CN as username), or null.</summary>
    private string? CertificateUser => _context.Features.Get<ClientCertificateIdentity>()?.Username;

    private void HandleTuneOk(ref AmqpReader reader)
    {
        var channelMax = reader.ReadShort();
        var frameMax = reader.ReadLong();
        var heartbeat = reader.ReadShort();

        var ourFrameMax = (uint)Math.Max(FrameType.MinFrameMax, _edge.Options.FrameMax);
        if (frameMax != 0 && (frameMax < FrameType.MinFrameMax || frameMax > ourFrameMax))
        {
            // §connection.tune-ok frame-max: at least frame-min-size and at most what the server proposed.
            Throw.Connection(ReplyCode.NotAllowed, $"frame-max {frameMax} is outside {FrameType.MinFrameMax}..{ourFrameMax}", Method.ConnectionTuneOk);
        }

        var ourChannelMax = (ushort)Math.Clamp(_edge.Options.ChannelMax, 1, ushort.MaxValue);
        if (channelMax > ourChannelMax)
        {
            Throw.Connection(ReplyCode.NotAllowed, $"channel-max {channelMax} is above the server's {ourChannelMax}", Method.ConnectionTuneOk);
        }

        _frameMax = frameMax == 0 ? ourFrameMax : frameMax;
        _channelMax = channelMax == 0 ? ourChannelMax : channelMax;
        _heartbeatSeconds = heartbeat;
        _state = State.AwaitingOpen;
    }

    private void HandleOpen(ref AmqpReader reader)
    {
        var vhost = reader.ReadShortString();
        if (vhost != VirtualHost.Name)
        {
            Throw.Connection(ReplyCode.NotAllowed, $"vhost '{vhost}' not found (only '{VirtualHost.Name}')", Method.ConnectionOpen);
        }

        Out.BeginMethod(0, Method.ConnectionOpenOk);
        Out.WriteShortString(string.Empty); // reserved-1
        Out.EndFrame();
        _state = State.Open;
        _counted = true;
        _edge.Broker.Metrics.ConnectionOpened("amqp");
        AmqpLog.Opened(_edge.Logger, Remote, _user, _frameMax, _heartbeatSeconds);
        OnOpened();
    }

    /// <summary>
    /// A connection exception (§1.2): one log line, connection.close with the code, then only
    /// close-ok is awaited. <paramref name="drain"/> false ends at once (the framing is broken).
    /// </summary>
    private string? FailConnection(AmqpException ex, bool drain, bool log = true)
    {
        if (log)
        {
            _edge.Broker.Metrics.ProtocolErrors.Add(1);
            AmqpLog.ConnectionError(_edge.Logger, Remote, ex.Code, ex.Message);
        }

        Out.BeginMethod(0, Method.ConnectionClose);
        Out.WriteShort(ex.Code);
        Out.WriteShortString(Truncate(ex.ReplyText));
        Out.WriteShort(Method.Class(ex.FailingMethod));
        Out.WriteShort(Method.Id(ex.FailingMethod));
        Out.EndFrame();
        if (_state >= State.Open)
        {
            foreach (var channel in _channels.Values)
            {
                channel.Release();
            }

            _channels.Clear();
        }

        _state = State.Closing;
        _closingSince = Environment.TickCount64;
        return drain ? null : $"{ReplyCode.Name(ex.Code)}: {ex.Message}";
    }

    private ValueTask<string?> FailConnectionAsync(AmqpException ex, bool drain) => ValueTask.FromResult(FailConnection(ex, drain));

    public static string Truncate(string text)
    {
        // A short string holds 255 octets.
        while (Encoding.UTF8.GetByteCount(text) > 255)
        {
            text = text[..^1];
        }

        return text;
    }
}
