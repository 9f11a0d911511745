using System.Net;

namespace Cicada.Core.Auth;

/// <summary>
/// A challenge/response authentication method, named as SASL names its mechanisms (RFC 4422 §3.1,
/// e.g. <c>SCRAM-SHA-256</c>). An edge that lets a client name a method (MQTT 5 Authentication
/// Method, §4.12; AMQP 0-9-1 <c>connection.start-ok</c> mechanism, §1.4.2.2) looks it up in
/// <see cref="AuthenticationMechanisms"/>, calls <see cref="Begin"/> once per attempt and passes the
/// client's messages to the exchange, carrying the server's answers back in its own packets. Nothing
/// here knows a wire format: data is opaque bytes both ways.
/// </summary>
public interface IAuthenticationMechanism
{
    /// <summary>The method's name as the client sends it (compared ordinally).</summary>
    string Name { get; }

    /// <summary>Starts one authentication attempt (a connect, or a re-authentication of a live connection).</summary>
    IAuthenticationExchange Begin(AuthExchangeContext context);
}

/// <summary>
/// One attempt of a challenge/response method. The first <see cref="StepAsync"/> receives the
/// client's initial data (empty when it sent none); every later call receives the client's answer
/// to the previous <see cref="AuthStepOutcome.Continue"/>. After <see cref="AuthStepOutcome.Succeeded"/>
/// or <see cref="AuthStepOutcome.Failed"/> the exchange is over. Calls are never concurrent.
/// </summary>
public interface IAuthenticationExchange
{
    ValueTask<AuthStep> StepAsync(ReadOnlyMemory<byte> clientData, CancellationToken cancellationToken);
}

/// <summary>Who is authenticating: for log lines and for methods that decide by origin.</summary>
public readonly record struct AuthExchangeContext(string ClientId, string Protocol, EndPoint? RemoteEndPoint);

public enum AuthStepOutcome
{
    /// <summary>The server needs another message: send <see cref="AuthStep.ServerData"/> and wait for the answer.</summary>
    Continue,

    /// <summary>Authenticated as <see cref="AuthStep.Username"/>; <see cref="AuthStep.ServerData"/> is the final data (may be null).</summary>
    Succeeded,

    /// <summary>Refused, for <see cref="AuthStep.Failure"/>; the exchange has logged why.</summary>
    Failed,
}

/// <summary>What one step of an <see cref="IAuthenticationExchange"/> decided.</summary>
public readonly record struct AuthStep(AuthStepOutcome Outcome, byte[]? ServerData, string? Username, AuthResult Failure)
{
    public static AuthStep Continue(byte[] serverData) => new(AuthStepOutcome.Continue, serverData, null, AuthResult.Allowed);

    public static AuthStep Succeed(string username, byte[]? finalServerData) =>
        new(AuthStepOutcome.Succeeded, finalServerData, username, AuthResult.Allowed);

    /// <summary><see cref="AuthResult.BadCredentials"/> for a wrong proof or an unknown user; <see cref="AuthResult.NotAuthorized"/> otherwise.</summary>
    public static AuthStep Fail(AuthResult failure) =>
        failure == AuthResult.Allowed
            ? throw new ArgumentOutOfRangeException(nameof(failure), "A failure needs a reason other than Allowed.")
            : new(AuthStepOutcome.Failed, null, null, failure);
}
