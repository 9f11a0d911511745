using System.Diagnostics.CodeAnalysis;

namespace Cicada.Amqp.Protocol;

/// <summary>
/// A protocol error with its reply code. Hard errors (5xx, 403 on login, 530) close the connection
/// with connection.close; soft errors (4xx) close only the channel with channel.close (§1.2, "Exceptions").
/// </summary>
internal sealed class AmqpException(ushort code, string text, uint method = 0, bool connectionLevel = false) : Exception(text)
{
    public ushort Code { get; } = code;

    /// <summary>The failing method (class and method id for the close's class-id/method-id); 0 when none.</summary>
    public uint FailingMethod { get; } = method;

    public bool IsConnectionError { get; } = connectionLevel || code >= 500;

    public string ReplyText => $"{ReplyCode.Name(Code)} - {Message}";
}

/// <summary>Throw helpers kept out of line so the hot paths stay small.</summary>
internal static class Throw
{
    [DoesNotReturn]
    public static void Channel(ushort code, string text, uint method) => throw new AmqpException(code, text, method);

    [DoesNotReturn]
    public static T Channel<T>(ushort code, string text, uint method) => throw new AmqpException(code, text, method);

    [DoesNotReturn]
    public static void Connection(ushort code, string text, uint method = 0) => throw new AmqpException(code, text, method, connectionLevel: true);

    [DoesNotReturn]
    public static T Connection<T>(ushort code, string text, uint method = 0) => throw new AmqpException(code, text, method, connectionLevel: true);

    [DoesNotReturn]
    public static void Malformed(string what) => throw new AmqpException(ReplyCode.SyntaxError, what, 0, connectionLevel: true);

    [DoesNotReturn]
    public static T Malformed<T>(string what) => throw new AmqpException(ReplyCode.SyntaxError, what, 0, connectionLevel: true);
}
