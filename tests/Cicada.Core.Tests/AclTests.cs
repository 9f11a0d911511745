using Cicada.Core.Auth;
using Cicada.Core.Topics;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cicada.Core.Tests;

/// <summary>
/// The ACL model (mosquitto's file format; Cicada's subscribe rule "one rule must cover the whole
/// filter, no deny rule may overlap it"), checked against the reference matcher.
/// </summary>
public sealed class AclTests : IDisposable
{
    private static readonly ClientIdentity Anonymous = new(null, "anon-1", "test");
    private static readonly ClientIdentity Alice = new("alice", "alice-phone", "test");
    private static readonly ClientIdentity Bob = new("bob", "bob-laptop", "test");

    private readonly string _directory = Directory.CreateTempSubdirectory("cicada-acl-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private AclFileAuthorizer Authorizer(string text)
    {
        var path = Path.Combine(_directory, "acl");
        File.WriteAllText(path, text);
        return new AclFileAuthorizer(Options.Create(new AclOptions { AclFile = path }), NullLogger<AclFileAuthorizer>.Instance);
    }

    // Every topic of 1..5 levels over the generators' alphabet: a finite world to compare against.
    private static readonly string[] Universe = BuildUniverse();

    private static string[] BuildUniverse()
    {
        string[] alphabet = ["a", "b", "", "$s"];
        var topics = new List<string>();
        var level = alphabet.ToList();
        for (var depth = 1; depth <= 5; depth++)
        {
            topics.AddRange(level);
            level = [.. level.SelectMany(prefix => alphabet.Select(a => prefix + "/" + a))];
        }

        return [.. topics];
    }

    [Fact]
    public void Covers_IsTrueExactly_WhenEveryTopicTheSubscriptionMatches_TheRuleMatchesToo()
    {
        Gen.Select(TopicGen.Filter, TopicGen.Filter).Sample((rule, subscription) =>
        {
            var expected = Universe.All(t => !TopicValidator.Matches(subscription, t) || TopicValidator.Matches(rule, t));
            var actual = new AclFilter(rule, isPattern: false).Covers(subscription.Split('/'), Anonymous);
            Assert.True(expected == actual, $"rule '{rule}' covers '{subscription}': expected {expected}, got {actual}");
        }, iter: 2000);
    }

    [Fact]
    public void Overlaps_IsTrueExactly_WhenSomeTopicMatchesBoth()
    {
        Gen.Select(TopicGen.Filter, TopicGen.Filter).Sample((rule, subscription) =>
        {
            var expected = Universe.Any(t => TopicValidator.Matches(subscription, t) && TopicValidator.Matches(rule, t));
            var actual = new AclFilter(rule, isPattern: false).Overlaps(subscription.Split('/'), Anonymous);
            Assert.True(expected == actual, $"rule '{rule}' overlaps '{subscription}': expected {expected}, got {actual}");
        }, iter: 2000);
    }

    [Fact]
    public void Matches_AgreesWithTheReferenceMatcher_MQTT_4_7()
    {
        Gen.Select(TopicGen.Filter, TopicGen.Topic).Sample((filter, topic) =>
            Assert.Equal(TopicValidator.Matches(filter, topic), new AclFilter(filter, isPattern: false).Matches(topic, Anonymous)),
            iter: 5000);
    }

    [Theory]
    [InlineData("read", true, false)]
    [InlineData("write", false, true)]
    [InlineData("readwrite", true, true)]
    [InlineData("", true, true)] // no access word: readwrite (mosquitto)
    public void AccessWord_GrantsReadForSubscribe_WriteForPublish(string access, bool canSubscribe, bool canPublish)
    {
        var acl = Authorizer($"topic {access} home/#\n");

        Assert.Equal(canSubscribe, acl.CanSubscribe(Anonymous, "home/kitchen/temp"));
        Assert.Equal(canPublish, acl.CanPublish(Anonymous, "home/kitchen/temp"));
        Assert.False(acl.CanPublish(Anonymous, "garden/temp"));
    }

    [Fact]
    public void RulesBeforeAnyUserLine_ApplyToAnonymousClientsOnly_UserSectionsOnlyToTheirUser_AsMosquitto()
    {
        var acl = Authorizer("""
            # comment
            topic read public/#

            user alice
            topic readwrite alice/#
            user bob
            topic write bob/#
            """);

        // mosquitto.conf(5), acl_file: "The first set of topics are applied to anonymous clients".
        Assert.True(acl.CanSubscribe(Anonymous, "public/news"));
        Assert.False(acl.CanSubscribe(Alice, "public/news"));
        Assert.False(acl.CanSubscribe(Bob, "public/news"));
        Assert.False(acl.CanSubscribe(new ClientIdentity("carol", "c", "test"), "public/news"));

        Assert.True(acl.CanPublish(Alice, "alice/x"));
        Assert.False(acl.CanPublish(Bob, "alice/x"));
        Assert.False(acl.CanPublish(Anonymous, "alice/x"));
        Assert.True(acl.CanPublish(Bob, "bob/x"));
        Assert.False(acl.CanSubscribe(Bob, "bob/x"));
    }

    [Fact]
    public void Subscribe_NeedsOneRuleCoveringTheWholeFilter()
    {
        var acl = Authorizer("topic read sensors/#\ntopic read rooms/+/temp\n");

        Assert.True(acl.CanSubscribe(Anonymous, "sensors/+/temp"));
        Assert.True(acl.CanSubscribe(Anonymous, "sensors/#"));
        Assert.True(acl.CanSubscribe(Anonymous, "rooms/kitchen/temp"));
        Assert.True(acl.CanSubscribe(Anonymous, "rooms/+/temp"));

        // Each reaches topics the rules do not grant.
        Assert.False(acl.CanSubscribe(Anonymous, "#"));
        Assert.False(acl.CanSubscribe(Anonymous, "+/kitchen/temp"));
        Assert.False(acl.CanSubscribe(Anonymous, "rooms/#"));
        Assert.False(acl.CanSubscribe(Anonymous, "rooms/+/+"));
    }

    [Fact]
    public void DenyRules_ComeFirst_AndRefuseEverySubscriptionThatReachesIntoThem()
    {
        var acl = Authorizer("""
            user alice
            topic readwrite home/#
            topic deny home/secret/#
            """);

        Assert.True(acl.CanPublish(Alice, "home/kitchen"));
        Assert.False(acl.CanPublish(Alice, "home/secret/code"));
        Assert.True(acl.CanSubscribe(Alice, "home/kitchen/#"));
        Assert.False(acl.CanSubscribe(Alice, "home/#"));
        Assert.False(acl.CanSubscribe(Alice, "home/+/code"));
        Assert.False(acl.CanSubscribe(Alice, "home/secret"));
    }

    [Fact]
    public void Patterns_SubstituteUsernameAndClientId()
    {
        var acl = Authorizer("""
            pattern readwrite users/%u/#
            pattern write devices/%c/status
            pattern read fleet/dev-%c-state
            """);

        Assert.True(acl.CanPublish(Alice, "users/alice/x"));
        Assert.True(acl.CanSubscribe(Alice, "users/alice/#"));
        Assert.False(acl.CanPublish(Alice, "users/bob/x"));
        Assert.False(acl.CanSubscribe(Alice, "users/+/x"));
        Assert.True(acl.CanPublish(Alice, "devices/alice-phone/status"));
        Assert.False(acl.CanPublish(Bob, "devices/alice-phone/status"));
        Assert.True(acl.CanSubscribe(Bob, "fleet/dev-bob-laptop-state"));
        Assert.False(acl.CanSubscribe(Bob, "fleet/dev-alice-phone-state"));

        // An anonymous client has no %u: the username pattern is about nobody.
        Assert.False(acl.CanPublish(Anonymous, "users//x"));
        Assert.True(acl.CanPublish(Anonymous, "devices/anon-1/status"));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("+")]
    [InlineData("#")]
    public void Patterns_AreNotApplied_WhenTheNameWouldAddLevelsOrWildcards(string clientId)
    {
        // "users/a/b/#" would be inside user "a"'s tree; "+" or "#" would grant everyone's.
        var acl = Authorizer("pattern readwrite users/%c/#\npattern deny private/%c/#\nuser mallory\ntopic readwrite private/#\n");
        var sneaky = new ClientIdentity("mallory", clientId, "test");

        Assert.False(acl.CanSubscribe(sneaky, $"users/{clientId}/#"));
        Assert.False(acl.CanPublish(sneaky, "users/a/b/x"));

        // A deny pattern that cannot be applied safely denies (fail closed).
        Assert.False(acl.CanPublish(sneaky, "private/x"));
        Assert.True(acl.CanPublish(new ClientIdentity("mallory", "ok", "test"), "private/x"));
    }

    [Fact]
    public void SharedSubscription_IsJudgedByItsInnerFilter_MQTT5_4_8_2()
    {
        var acl = Authorizer("topic read jobs/#\n");

        Assert.True(acl.CanSubscribe(Anonymous, "$share/workers/jobs/+"));
        Assert.False(acl.CanSubscribe(Anonymous, "$share/workers/#"));
        Assert.False(acl.CanSubscribe(Anonymous, "$share/jobs/other"));
    }

    [Fact]
    public void LeadingWildcardRules_DoNotReachDollarTopics_MQTT_4_7_2_1()
    {
        var acl = Authorizer("topic readwrite #\n");

        Assert.True(acl.CanPublish(Anonymous, "any/topic"));
        Assert.False(acl.CanPublish(Anonymous, "$SYS/broker"));
        Assert.False(acl.CanSubscribe(Anonymous, "$SYS/#"));
        Assert.True(acl.CanSubscribe(Anonymous, "#"));
    }

    [Fact]
    public void EmptyFile_DeniesEverything()
    {
        var acl = Authorizer("# nothing yet\n");

        Assert.False(acl.CanPublish(Alice, "a"));
        Assert.False(acl.CanSubscribe(Alice, "a"));
        Assert.Contains("no rules", acl.Explain(Alice, "a", AclAction.Publish).Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("topic read a/#/b", 1)]
    [InlineData("topic read", 1)]
    [InlineData("allow all", 1)]
    [InlineData("user", 1)]
    [InlineData("topic read ok/#\ntopic write a+b", 2)]
    public void InvalidLines_AreReported_AndTheFileDeniesEverything(string text, int badLine)
    {
        var rules = AclRules.Parse(text, "acl");
        Assert.Contains(rules.Errors, e => e.StartsWith($"acl:{badLine}:", StringComparison.Ordinal));

        var acl = Authorizer(text);
        Assert.False(acl.CanSubscribe(Anonymous, "ok/x"));
        Assert.Contains("invalid", acl.Explain(Anonymous, "ok/x", AclAction.Subscribe).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_NamesTheDecidingRuleAndLine()
    {
        var acl = Authorizer("topic read public/#\nuser alice\ntopic read public/#\ntopic deny public/secret\n");

        var allowed = acl.Explain(Alice, "public/news", AclAction.Subscribe);
        Assert.True(allowed.Allowed);
        Assert.Equal(3, allowed.Rule!.Line);
        Assert.Equal(1, acl.Explain(Anonymous, "public/news", AclAction.Subscribe).Rule!.Line);

        var denied = acl.Explain(Alice, "public/secret", AclAction.Subscribe);
        Assert.False(denied.Allowed);
        Assert.Equal(4, denied.Rule!.Line);
        Assert.Contains("topic deny public/secret", denied.Reason, StringComparison.Ordinal);

        var unmatched = acl.Explain(Alice, "public/news", AclAction.Publish);
        Assert.False(unmatched.Allowed);
        Assert.Null(unmatched.Rule);
        Assert.Contains("no rule", unmatched.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Reload_AppliesAChangedFile_AndKeepsTheOldRulesWhenTheNewFileIsInvalid()
    {
        var acl = Authorizer("topic readwrite a/#\n");
        var path = acl.Path;
        Assert.True(acl.CanPublish(Anonymous, "a/1"));

        File.WriteAllText(path, "topic readwrite b/#\n# a longer file so the length changes too\n");
        Assert.True(acl.Reload());
        Assert.False(acl.CanPublish(Anonymous, "a/1"));
        Assert.True(acl.CanPublish(Anonymous, "b/1"));

        File.WriteAllText(path, "topic readwrite c/#\nbogus line\n");
        Assert.False(acl.Reload());
        Assert.True(acl.CanPublish(Anonymous, "b/1"));
        Assert.False(acl.CanPublish(Anonymous, "c/1"));

        File.Delete(path);
        Assert.True(acl.Reload());
        Assert.False(acl.CanPublish(Anonymous, "b/1"));
    }

    [Fact]
    public void AllowAll_AllowsEverything_ButPublishingToSys()
    {
        IAuthorizer acl = AllowAllAuthorizer.Instance;

        Assert.True(acl.CanPublish(Anonymous, "home/x"));
        Assert.False(acl.CanPublish(Anonymous, "$SYS/x"));
        Assert.True(acl.CanSubscribe(Anonymous, "#"));
        Assert.True(acl.Explain(Anonymous, "#", AclAction.Subscribe).Allowed);
    }

    [Fact]
    public void CanPublish_AllocatesNothing_OnTheHotPath()
    {
        var acl = Authorizer("topic read public/#\npattern readwrite devices/%c/#\nuser alice\ntopic readwrite home/+/temp\n");
        const string topic = "devices/alice-phone/temp";
        Assert.True(acl.CanPublish(Alice, topic));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            acl.CanPublish(Alice, topic);
            acl.CanPublish(Alice, "home/kitchen/temp");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
