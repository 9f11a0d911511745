using System.Text;
using System.Text.RegularExpressions;
using Cicada.Core.Auth;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cicada.Core.Tests;

/// <summary>
/// SCRAM-SHA-256 (RFC 7677, RFC 5802) against RFC 7677 §3's test vector, and the server side's
/// refusals. The vector: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
/// </summary>
public class ScramSha256Tests
{
    private const string ClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    private const string ServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private const string ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string ClientFinalWithoutProof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    private const string Proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    private static readonly byte[] Salt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");
    private static readonly ScramCredential Pencil = ScramSha256.CreateCredential("pencil"u8, Salt, 4096);

    private static byte[] AuthMessage => Encoding.UTF8.GetBytes($"{ClientFirst[3..]},{ServerFirst},{ClientFinalWithoutProof}");

    private static ScramSha256Mechanism Mechanism(Dictionary<string, ScramCredential>? users = null) =>
        new(name => (users ?? new() { ["user"] = Pencil }).GetValueOrDefault(name), NullLogger<ScramSha256Mechanism>.Instance, () => ServerNonce);

    private static async Task<AuthStep> Step(IAuthenticationExchange exchange, string message) =>
        await exchange.StepAsync(Encoding.UTF8.GetBytes(message), CancellationToken.None);

    private static string Text(byte[]? data) => Encoding.UTF8.GetString(data ?? []);

    private static IAuthenticationExchange Begin(ScramSha256Mechanism mechanism) =>
        mechanism.Begin(new AuthExchangeContext("c1", "test", null));

    [Fact]
    public void RFC_7677_section_3_client_proof_and_server_signature_match_the_test_vector()
    {
        var salted = ScramSha256.SaltedPassword("pencil"u8, Salt, 4096);

        Assert.Equal(Proof, Convert.ToBase64String(ScramSha256.ClientProof(ScramSha256.ClientKey(salted), AuthMessage)));
        Assert.Equal(ServerFinal, "v=" + Convert.ToBase64String(ScramSha256.ServerSignature(Pencil.ServerKey, AuthMessage)));
        Assert.True(ScramSha256.VerifyClientProof(Pencil.StoredKey, AuthMessage, Convert.FromBase64String(Proof)));
    }

    [Fact]
    public void RFC_5802_section_3_the_stored_credential_cannot_stand_in_for_the_password()
    {
        // StoredKey = H(ClientKey): presenting StoredKey (or ServerKey) as the proof must fail.
        Assert.False(ScramSha256.VerifyClientProof(Pencil.StoredKey, AuthMessage, Pencil.StoredKey));
        Assert.False(ScramSha256.VerifyClientProof(Pencil.StoredKey, AuthMessage, Pencil.ServerKey));
        Assert.False(ScramSha256.VerifyClientProof(Pencil.StoredKey, AuthMessage, Convert.FromBase64String(Proof)[..31]));
    }

    [Fact]
    public async Task RFC_7677_section_3_the_server_side_exchange_reproduces_the_test_vector()
    {
        var exchange = Begin(Mechanism());

        var first = await Step(exchange, ClientFirst);
        Assert.Equal(AuthStepOutcome.Continue, first.Outcome);
        Assert.Equal(ServerFirst, Text(first.ServerData));

        var final = await Step(exchange, $"{ClientFinalWithoutProof},p={Proof}");
        Assert.Equal(AuthStepOutcome.Succeeded, final.Outcome);
        Assert.Equal("user", final.Username);
        Assert.Equal(ServerFinal, Text(final.ServerData));

        // The exchange is over: anything more is refused.
        Assert.Equal(AuthStepOutcome.Failed, (await Step(exchange, ClientFirst)).Outcome);
    }

    [Fact]
    public async Task RFC_5802_section_3_a_wrong_proof_is_bad_credentials()
    {
        var exchange = Begin(Mechanism());
        await Step(exchange, ClientFirst);

        var proof = Convert.FromBase64String(Proof);
        proof[0] ^= 1;
        var final = await Step(exchange, $"{ClientFinalWithoutProof},p={Convert.ToBase64String(proof)}");

        Assert.Equal((AuthStepOutcome.Failed, AuthResult.BadCredentials), (final.Outcome, final.Failure));
        Assert.Null(final.ServerData);
    }

    [Fact]
    public async Task RFC_5802_section_5_1_an_unknown_user_gets_a_stable_salt_and_fails_only_at_the_proof()
    {
        var mechanism = Mechanism();
        var firstTry = Begin(mechanism);
        var step = await Step(firstTry, "n,,n=mallory,r=abc");
        Assert.Equal(AuthStepOutcome.Continue, step.Outcome);
        var serverFirst = Text(step.ServerData);
        Assert.Matches($"^r=abc{Regex.Escape(ServerNonce)},s=[A-Za-z0-9+/=]+,i={ScramSha256.DefaultIterations}$", serverFirst);

        // Asking again gives the same salt, as a real user's would.
        var again = Text((await Step(Begin(mechanism), "n,,n=mallory,r=abc")).ServerData);
        Assert.Equal(serverFirst, again);

        var final = await Step(firstTry, $"c=biws,r=abc{ServerNonce},p={Proof}");
        Assert.Equal((AuthStepOutcome.Failed, AuthResult.BadCredentials), (final.Outcome, final.Failure));
    }

    [Fact]
    public async Task RFC_4422_section_5_a_client_without_initial_data_gets_an_empty_challenge_first()
    {
        var exchange = Begin(Mechanism());

        var empty = await exchange.StepAsync(ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        Assert.Equal(AuthStepOutcome.Continue, empty.Outcome);
        Assert.Empty(empty.ServerData!);

        Assert.Equal(ServerFirst, Text((await Step(exchange, ClientFirst)).ServerData));
        Assert.Equal(AuthStepOutcome.Succeeded, (await Step(exchange, $"{ClientFinalWithoutProof},p={Proof}")).Outcome);
    }

    [Theory]
    [InlineData("p=tls-unique,,n=user,r=abc")] // channel binding: only the non-PLUS mechanism is offered
    [InlineData("x,,n=user,r=abc")] // not a GS2 channel-binding flag
    [InlineData("n=user,r=abc")] // no GS2 header
    [InlineData("n,,m=ext,n=user,r=abc")] // RFC 5802 §5.1 "m": a mandatory extension fails
    [InlineData("n,,r=abc,n=user")] // attributes out of order
    [InlineData("n,,n=us=2Xer,r=abc")] // '=' must be =2C or =3D
    [InlineData("n,,n=,r=abc")] // empty name
    [InlineData("n,,n=user,r=")] // empty nonce
    [InlineData("n,,n=user,r=a b")] // nonce must be printable, no spaces
    [InlineData("n,a=other,n=user,r=abc")] // authorization identity of someone else
    public async Task RFC_5802_section_7_a_malformed_client_first_message_is_refused(string message)
    {
        var step = await Step(Begin(Mechanism()), message);

        Assert.Equal((AuthStepOutcome.Failed, AuthResult.NotAuthorized), (step.Outcome, step.Failure));
    }

    [Fact]
    public async Task RFC_5802_section_7_client_first_message_that_is_not_UTF8_is_refused()
    {
        var step = await Begin(Mechanism()).StepAsync(new byte[] { (byte)'n', (byte)',', (byte)',', 0xFF }, CancellationToken.None);

        Assert.Equal(AuthStepOutcome.Failed, step.Outcome);
    }

    [Theory]
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" + Proof)] // only the client's half of the nonce
    [InlineData("c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=" + Proof)] // c= is not base64("n,,")
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")] // no proof
    [InlineData("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA")] // proof too short
    [InlineData("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=" + Proof)] // out of order
    public async Task RFC_5802_section_7_a_client_final_message_that_breaks_the_rules_is_refused(string message)
    {
        var exchange = Begin(Mechanism());
        await Step(exchange, ClientFirst);

        Assert.Equal(AuthStepOutcome.Failed, (await Step(exchange, message)).Outcome);
    }

    [Fact]
    public async Task RFC_5802_section_5_1_a_name_with_comma_and_equals_travels_escaped()
    {
        var credential = ScramSha256.CreateCredential("pencil"u8, Salt, 4096);
        var exchange = Begin(Mechanism(new() { ["a,b=c"] = credential }));

        var first = await Step(exchange, "n,,n=a=2Cb=3Dc,r=xyz");
        Assert.Equal(AuthStepOutcome.Continue, first.Outcome);

        // The client side of RFC 5802 §3, done here by the test with the password.
        var serverFirst = Text(first.ServerData);
        var nonce = serverFirst.Split(',')[0][2..];
        var withoutProof = $"c=biws,r={nonce}";
        var authMessage = Encoding.UTF8.GetBytes($"n=a=2Cb=3Dc,r=xyz,{serverFirst},{withoutProof}");
        var clientKey = ScramSha256.ClientKey(ScramSha256.SaltedPassword("pencil"u8, Salt, 4096));
        var proof = Convert.ToBase64String(ScramSha256.ClientProof(clientKey, authMessage));

        var final = await Step(exchange, $"{withoutProof},p={proof}");
        Assert.Equal((AuthStepOutcome.Succeeded, "a,b=c"), (final.Outcome, final.Username));
    }

    [Fact]
    public void RFC_5803_section_3_a_credential_round_trips_through_its_text_form()
    {
        var text = Pencil.Encode();

        Assert.StartsWith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", text, StringComparison.Ordinal);
        Assert.True(ScramCredential.TryParse(text, out var parsed));
        Assert.Equal(Pencil.Iterations, parsed.Iterations);
        Assert.Equal(Pencil.Salt, parsed.Salt);
        Assert.Equal(Pencil.StoredKey, parsed.StoredKey);
        Assert.Equal(Pencil.ServerKey, parsed.ServerKey);
    }

    [Theory]
    [InlineData("")]
    [InlineData("SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA")]
    [InlineData("SCRAM-SHA-256$0:c2FsdA==$x:y")]
    [InlineData("SCRAM-SHA-256$4096:c2FsdA==$not base64:AAAA")]
    [InlineData("SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:c2FsdA==")] // keys must be 32 bytes
    [InlineData("SCRAM-SHA-256$4096$c2FsdA==")]
    public void RFC_5803_section_3_a_malformed_credential_is_not_parsed(string text)
    {
        Assert.False(ScramCredential.TryParse(text, out _));
    }

    [Fact]
    public void A_fresh_credential_uses_a_random_salt_and_the_default_iterations()
    {
        var a = ScramSha256.CreateCredential("same password");
        var b = ScramSha256.CreateCredential("same password");

        Assert.Equal(ScramSha256.DefaultIterations, a.Iterations);
        Assert.True(a.Iterations >= ScramSha256.MinIterations); // RFC 7677 §4
        Assert.NotEqual(a.Salt, b.Salt);
        Assert.NotEqual(a.StoredKey, b.StoredKey);
    }

    [Fact]
    public void The_registry_finds_mechanisms_by_exact_name_and_refuses_two_of_one_name()
    {
        var scram = Mechanism();
        var registry = new AuthenticationMechanisms([scram]);

        Assert.True(registry.TryGet("SCRAM-SHA-256", out var found));
        Assert.Same(scram, found);
        Assert.False(registry.TryGet("scram-sha-256", out _));
        Assert.False(AuthenticationMechanisms.None.TryGet("SCRAM-SHA-256", out _));
        Assert.Throws<InvalidOperationException>(() => new AuthenticationMechanisms([scram, Mechanism()]));
    }
}
