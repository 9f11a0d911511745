using Cicada.Coap.Protocol;
using Cicada.Core.Auth;
using Cicada.Core.Topics;

namespace Cicada.Coap;

/// <summary>
/// The ACL at the CoAP edge: the same <see cref="IAuthorizer"/> MQTT asks. The client is the user
/// <c>?u=</c> named (checked with <c>?p=</c> by <see cref="AuthenticateAsync"/>), or anonymous, and
/// the client id <c>?c=</c> (else <c>coap:{address}:{port}</c>), so <c>%u</c>/<c>%c</c> patterns
/// work as over MQTT. A refusal is 4.03 Forbidden (RFC 7252 §5.9.2.4: "not authorized to perform
/// the requested action"; bad credentials stay 4.01, §5.9.2.2), and the authorizer logs it.
/// </summary>
public sealed partial class CoapServer
{
    private static ClientIdentity IdentityOf(RequestContext context) => new(context.Username, context.ClientId, "coap");

    /// <summary>
    /// GET (a read, an Observe registration) needs <c>read</c> on the topic or filter; PUT, POST
    /// and DELETE (a publish, clearing the retained value) need <c>write</c>. A path that is no
    /// topic (filter) is left to the handler's 4.00.
    /// </summary>
    private CoapMessage? Authorize(RequestContext context, string topic)
    {
        var request = context.Request;
        if (request.Code == CoapCode.Get)
        {
            return !TopicValidator.IsValidTopicFilter(topic) || _authorizer.CanSubscribe(IdentityOf(context), topic)
                ? null
                : Error(request, CoapCode.Forbidden, "read access denied");
        }

        return !TopicValidator.IsValidTopicName(topic) || _authorizer.CanPublish(IdentityOf(context), topic)
            ? null
            : Error(request, CoapCode.Forbidden, "write access denied");
    }

    /// <summary>A device command is a publish to its command topic; waiting for the reply reads the reply topic.</summary>
    private CoapMessage? AuthorizeCommand(RequestContext context, string identifier, string command, bool waits)
    {
        if (_commands?.TopicsFor(identifier, command) is not { } topics)
        {
            return null; // unknown device or bad name: the command handling answers 4.04 / 4.00
        }

        var identity = IdentityOf(context);
        if (!_authorizer.CanPublish(identity, topics.CommandTopic))
        {
            return Error(context.Request, CoapCode.Forbidden, "write access denied");
        }

        return waits && !_authorizer.CanSubscribe(identity, topics.ReplyFilter)
            ? Error(context.Request, CoapCode.Forbidden, "read access to the reply denied")
            : null;
    }
}
