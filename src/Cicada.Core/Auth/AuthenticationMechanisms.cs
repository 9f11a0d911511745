using System.Diagnostics.CodeAnalysis;

namespace Cicada.Core.Auth;

/// <summary>
/// The challenge/response methods this broker offers, by name: every <see cref="IAuthenticationMechanism"/>
/// registered in the container. A name no mechanism has is unsupported (MQTT 5 answers CONNACK
/// 0x8C Bad authentication method, MQTT-4.12.0-1).
/// </summary>
public sealed class AuthenticationMechanisms
{
    private readonly Dictionary<string, IAuthenticationMechanism> _byName = new(StringComparer.Ordinal);

    public AuthenticationMechanisms(IEnumerable<IAuthenticationMechanism> mechanisms)
    {
        foreach (var mechanism in mechanisms)
        {
            // Two registrations of one name are a host's mistake; failing at start-up beats
            // choosing one silently.
            if (!_byName.TryAdd(mechanism.Name, mechanism))
                throw new InvalidOperationException($"Two authentication mechanisms are named '{mechanism.Name}'.");
        }
    }

    /// <summary>No mechanism: every named method is unsupported.</summary>
    public static AuthenticationMechanisms None { get; } = new([]);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public bool TryGet(string name, [MaybeNullWhen(false)] out IAuthenticationMechanism mechanism) =>
        _byName.TryGetValue(name, out mechanism);
}
