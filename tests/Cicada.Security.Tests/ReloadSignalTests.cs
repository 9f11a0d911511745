using Cicada.Security.Tests.Infrastructure;

namespace Cicada.Security.Tests;

/// <summary>
/// SIGHUP re-reads the users file, the ACL file and the TLS certificates without a restart and
/// without dropping connections. Each test changes a file but keeps its modification time and
/// length, so the change-watching that also reloads these files cannot see it: what changes the
/// broker's behaviour is the signal alone.
/// </summary>
public sealed class ReloadSignalTests
{
    private static async Task SighupAsync(SecureBroker broker)
    {
        // The handler is registered before the start line; without it SIGHUP would end the process.
        await broker.WaitForLogAsync(" started: mqtt ");
        var result = await ExternalProcess.RunAsync("kill", ["-HUP", SecureBroker.Invariant(broker.ProcessId)]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>Writes <paramref name="text"/> over <paramref name="path"/> keeping its length and modification time.</summary>
    private static void ReplaceUnnoticed(string path, string text)
    {
        var before = new FileInfo(path);
        var (time, length) = (before.LastWriteTimeUtc, before.Length);
        Assert.Equal(length, System.Text.Encoding.UTF8.GetByteCount(text));

        // Written aside, dated, then renamed over: the broker, which looks at the file every second,
        // never sees it with a new time.
        var temp = path + ".new";
        File.WriteAllText(temp, text);
        File.SetLastWriteTimeUtc(temp, time);
        File.Move(temp, path, overwrite: true);
        Assert.Equal((time, length), (new FileInfo(path).LastWriteTimeUtc, new FileInfo(path).Length));
    }

    private static async Task<string> HashLineAsync(string directory, string user, string password)
    {
        var file = Path.Combine(directory, $"passwd-{user}");
        var made = await ExternalProcess.RunAsync("mosquitto_passwd", ["-c", "-b", file, user, password]);
        Assert.True(made.ExitCode == 0, made.ToString());
        return File.ReadAllText(file).Trim();
    }

    private static Task<(RawMqttClient Client, MqttPacket ConnAck)> LoginAsync(SecureBroker broker, string clientId, string user, string password) =>
        RawMqttClient.ConnectAsync(broker.Port, new ConnectOptions { ClientId = clientId, UserName = user, Password = password });

    [Fact]
    public async Task Sighup_ReloadsTheUsersFile_ANewUserConnects_WhileOpenConnectionsStayUp()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Users = new Dictionary<string, string> { ["alice"] = "alice-pw", ["bob"] = "bob-pw" },
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
        });
        var usersFile = Path.Combine(broker.Directory, "users");

        await using var alice = await RawMqttClient.ConnectAcceptedAsync(broker.Port,
            new ConnectOptions { ClientId = "alice-sub", UserName = "alice", Password = "alice-pw" });
        await alice.SubscribeAsync("reload/#", 1);

        // bob leaves, eve arrives: same name length and hash length, so the same file length.
        var lines = File.ReadAllLines(usersFile);
        var eve = await HashLineAsync(broker.Directory, "eve", "eve-pw");
        ReplaceUnnoticed(usersFile, string.Join('\n', lines.Select(l => l.StartsWith("bob:", StringComparison.Ordinal) ? eve : l)) + "\n");

        var (before, refused) = await LoginAsync(broker, "eve-early", "eve", "eve-pw");
        await using (before)
        {
            Assert.Equal(4, refused.ReturnCode); // 0x04 bad user name or password: the file looks unchanged
        }

        await SighupAsync(broker);
        var line = await broker.WaitForLogAsync("loaded (SIGHUP)");
        Assert.Contains("added eve", line, StringComparison.Ordinal);
        Assert.Contains("removed bob", line, StringComparison.Ordinal);

        await using var eveClient = await RawMqttClient.ConnectAcceptedAsync(broker.Port,
            new ConnectOptions { ClientId = "eve-pub", UserName = "eve", Password = "eve-pw" });
        await eveClient.PublishAsync("reload/eve", "hello", qos: 1);

        // alice's connection, opened before the reload, is still up and still delivers.
        var received = await alice.ReceivePublishAsync();
        Assert.Equal(("reload/eve", "hello"), (received.Topic, received.PayloadText));
        await alice.AssertOpenAsync();

        var (bob, bobAck) = await LoginAsync(broker, "bob-late", "bob", "bob-pw");
        await using (bob)
        {
            Assert.Equal(4, bobAck.ReturnCode);
        }
    }

    [Fact]
    public async Task Sighup_WithABrokenUsersFile_KeepsThePreviousUsers()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Users = new Dictionary<string, string> { ["alice"] = "alice-pw" },
            Configuration = new Dictionary<string, string> { ["Auth:AllowAnonymous"] = "false" },
        });
        var usersFile = Path.Combine(broker.Directory, "users");
        await using (var first = await RawMqttClient.ConnectAcceptedAsync(broker.Port,
            new ConnectOptions { ClientId = "alice-1", UserName = "alice", Password = "alice-pw" }))
        {
            await first.DisconnectAsync();
        }

        // A half-written file: a line that is no user.
        File.WriteAllText(usersFile, "alice\n");
        await SighupAsync(broker);
        var line = await broker.WaitForLogAsync("refused (SIGHUP)");
        Assert.Contains("the previous 1 users stay in force", line, StringComparison.Ordinal);

        await using var again = await RawMqttClient.ConnectAcceptedAsync(broker.Port,
            new ConnectOptions { ClientId = "alice-2", UserName = "alice", Password = "alice-pw" });
    }

    [Fact]
    public async Task Sighup_ReloadsTheAclAndTheCertificates_OneLineEach_KeepingTlsConnections()
    {
        await using var broker = await SecureBroker.StartAsync(new SecureBrokerSettings
        {
            Tls = true,
            Acl = """
                topic readwrite tls/#
                topic read aaaa/#
                """,
        });

        // A TLS subscriber connected with the first certificate.
        var oldCa = Path.Combine(broker.Directory, "old-ca.crt");
        File.Copy(broker.CaFile, oldCa);
        ExternalProcess tlsSubscriber;
        try
        {
            tlsSubscriber = await Mosquitto.SubscribeAsync(broker.TlsPort, "tls/#", "--cafile", oldCa);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n--- broker ---\n{broker.Output}", ex);
        }

        await using var subscriberLifetime = tlsSubscriber;

        await using var probe = await RawMqttClient.ConnectAcceptedAsync(broker.Port, "acl-probe");
        Assert.Equal([0x80], (await probe.SubscribeAsync("bbbb/#")).SubAckReturnCodes);

        ReplaceUnnoticed(broker.AclFile, File.ReadAllText(broker.AclFile).Replace("aaaa/#", "bbbb/#", StringComparison.Ordinal));
        Assert.Equal([0x80], (await probe.SubscribeAsync("bbbb/#")).SubAckReturnCodes);

        // A renewal job writes a new CA and server certificate; no handshake happens before the signal.
        Assert.Equal(0, (await SecureBroker.RunCicadaAsync("cert", "dev", "--out", broker.CertificateDirectory, "--force")).ExitCode);

        await SighupAsync(broker);
        var acl = await broker.WaitForLogAsync("loaded (SIGHUP): 2 rules");
        Assert.Contains("ACL file", acl, StringComparison.Ordinal);
        Assert.Contains("1 rules added (topic read bbbb/#), 1 removed (topic read aaaa/#)", acl, StringComparison.Ordinal);
        var certificate = await broker.WaitForLogAsync("loaded (SIGHUP): CN=localhost");
        Assert.Contains("replaces", certificate, StringComparison.Ordinal);
        await broker.WaitForLogAsync("(SIGHUP): 1 certificates");

        Assert.Equal([0x00], (await probe.SubscribeAsync("bbbb/#")).SubAckReturnCodes);

        // New handshakes get the new certificate; the connection made before is still up.
        var published = await Mosquitto.PublishAsync(broker.TlsPort, "tls/after", "renewed", "-q", "1", "--cafile", broker.CaFile);
        Assert.True(published.ExitCode == 0, $"{published}\n{broker.Output}");
        Assert.NotEqual(0, (await Mosquitto.PublishAsync(broker.TlsPort, "tls/old", "x", "--cafile", oldCa)).ExitCode);
        Assert.Equal([("tls/after", "renewed")], await Mosquitto.ReceiveUntilAsync(tlsSubscriber, "tls/after"));
    }
}
