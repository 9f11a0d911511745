namespace Cicada.Amqp.Protocol;

/// <summary>Frame types (AMQP 0-9-1 §4.2.3; heartbeat is 8 in the 0-9-1 XML, not 4 as in the PDF).</summary>
internal static class FrameType
{
    public const byte Method = 1;
    public const byte Header = 2;
    public const byte Body = 3;
    public const byte Heartbeat = 8;

    /// <summary>Every frame ends with this octet (§2.3.5); anything else is a frame error.</summary>
    public const byte End = 0xCE;

    /// <summary>Frame header: type (1), channel (2), size (4).</summary>
    public const int HeaderSize = 7;

    /// <summary>Header plus frame-end octet.</summary>
    public const int Overhead = HeaderSize + 1;

    /// <summary>Smallest frame-max a peer may ask for, and the limit before Tune (§4.2.3, frame-min-size).</summary>
    public const int MinFrameMax = 4096;
}

/// <summary>Class ids (amqp0-9-1.xml).</summary>
internal static class ClassId
{
    public const ushort Connection = 10;
    public const ushort Channel = 20;
    public const ushort Exchange = 40;
    public const ushort Queue = 50;
    public const ushort Basic = 60;
    public const ushort Confirm = 85;
    public const ushort Tx = 90;
}

/// <summary>Method ids, as <c>(class &lt;&lt; 16) | method</c> so one switch covers all classes.</summary>
internal static class Method
{
    public const uint ConnectionStart = 10 << 16 | 10;
    public const uint ConnectionStartOk = 10 << 16 | 11;
    public const uint ConnectionSecure = 10 << 16 | 20;
    public const uint ConnectionSecureOk = 10 << 16 | 21;
    public const uint ConnectionTune = 10 << 16 | 30;
    public const uint ConnectionTuneOk = 10 << 16 | 31;
    public const uint ConnectionOpen = 10 << 16 | 40;
    public const uint ConnectionOpenOk = 10 << 16 | 41;
    public const uint ConnectionClose = 10 << 16 | 50;
    public const uint ConnectionCloseOk = 10 << 16 | 51;
    public const uint ConnectionBlocked = 10 << 16 | 60;
    public const uint ConnectionUnblocked = 10 << 16 | 61;

    public const uint ChannelOpen = 20 << 16 | 10;
    public const uint ChannelOpenOk = 20 << 16 | 11;
    public const uint ChannelFlow = 20 << 16 | 20;
    public const uint ChannelFlowOk = 20 << 16 | 21;
    public const uint ChannelClose = 20 << 16 | 40;
    public const uint ChannelCloseOk = 20 << 16 | 41;

    public const uint ExchangeDeclare = 40 << 16 | 10;
    public const uint ExchangeDeclareOk = 40 << 16 | 11;
    public const uint ExchangeDelete = 40 << 16 | 20;
    public const uint ExchangeDeleteOk = 40 << 16 | 21;
    public const uint ExchangeBind = 40 << 16 | 30;
    public const uint ExchangeBindOk = 40 << 16 | 31;
    public const uint ExchangeUnbind = 40 << 16 | 40;
    public const uint ExchangeUnbindOk = 40 << 16 | 51;

    public const uint QueueDeclare = 50 << 16 | 10;
    public const uint QueueDeclareOk = 50 << 16 | 11;
    public const uint QueueBind = 50 << 16 | 20;
    public const uint QueueBindOk = 50 << 16 | 21;
    public const uint QueuePurge = 50 << 16 | 30;
    public const uint QueuePurgeOk = 50 << 16 | 31;
    public const uint QueueDelete = 50 << 16 | 40;
    public const uint QueueDeleteOk = 50 << 16 | 41;
    public const uint QueueUnbind = 50 << 16 | 50;
    public const uint QueueUnbindOk = 50 << 16 | 51;

    public const uint BasicQos = 60 << 16 | 10;
    public const uint BasicQosOk = 60 << 16 | 11;
    public const uint BasicConsume = 60 << 16 | 20;
    public const uint BasicConsumeOk = 60 << 16 | 21;
    public const uint BasicCancel = 60 << 16 | 30;
    public const uint BasicCancelOk = 60 << 16 | 31;
    public const uint BasicPublish = 60 << 16 | 40;
    public const uint BasicReturn = 60 << 16 | 50;
    public const uint BasicDeliver = 60 << 16 | 60;
    public const uint BasicGet = 60 << 16 | 70;
    public const uint BasicGetOk = 60 << 16 | 71;
    public const uint BasicGetEmpty = 60 << 16 | 72;
    public const uint BasicAck = 60 << 16 | 80;
    public const uint BasicReject = 60 << 16 | 90;
    public const uint BasicRecoverAsync = 60 << 16 | 100;
    public const uint BasicRecover = 60 << 16 | 110;
    public const uint BasicRecoverOk = 60 << 16 | 111;
    public const uint BasicNack = 60 << 16 | 120;

    public const uint ConfirmSelect = 85 << 16 | 10;
    public const uint ConfirmSelectOk = 85 << 16 | 11;

    public const uint TxSelect = 90 << 16 | 10;
    public const uint TxSelectOk = 90 << 16 | 11;
    public const uint TxCommit = 90 << 16 | 20;
    public const uint TxCommitOk = 90 << 16 | 21;
    public const uint TxRollback = 90 << 16 | 30;
    public const uint TxRollbackOk = 90 << 16 | 31;

    public static ushort Class(uint method) => (ushort)(method >> 16);

    public static ushort Id(uint method) => (ushort)method;
}

/// <summary>Reply codes (amqp0-9-1.xml, constants).</summary>
internal static class ReplyCode
{
    public const ushort Success = 200;
    public const ushort ContentTooLarge = 311;
    public const ushort NoRoute = 312;
    public const ushort NoConsumers = 313;
    public const ushort ConnectionForced = 320;
    public const ushort InvalidPath = 402;
    public const ushort AccessRefused = 403;
    public const ushort NotFound = 404;
    public const ushort ResourceLocked = 405;
    public const ushort PreconditionFailed = 406;
    public const ushort FrameError = 501;
    public const ushort SyntaxError = 502;
    public const ushort CommandInvalid = 503;
    public const ushort ChannelError = 504;
    public const ushort UnexpectedFrame = 505;
    public const ushort ResourceError = 506;
    public const ushort NotAllowed = 530;
    public const ushort NotImplemented = 540;
    public const ushort InternalError = 541;

    public static string Name(ushort code) => code switch
    {
        Success => "REPLY_SUCCESS",
        ContentTooLarge => "CONTENT_TOO_LARGE",
        NoRoute => "NO_ROUTE",
        NoConsumers => "NO_CONSUMERS",
        ConnectionForced => "CONNECTION_FORCED",
        InvalidPath => "INVALID_PATH",
        AccessRefused => "ACCESS_REFUSED",
        NotFound => "NOT_FOUND",
        ResourceLocked => "RESOURCE_LOCKED",
        PreconditionFailed => "PRECONDITION_FAILED",
        FrameError => "FRAME_ERROR",
        SyntaxError => "SYNTAX_ERROR",
        CommandInvalid => "COMMAND_INVALID",
        ChannelError => "CHANNEL_ERROR",
        UnexpectedFrame => "UNEXPECTED_FRAME",
        ResourceError => "RESOURCE_ERROR",
        NotAllowed => "NOT_ALLOWED",
        NotImplemented => "NOT_IMPLEMENTED",
        InternalError => "INTERNAL_ERROR",
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
