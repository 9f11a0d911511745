using System.Globalization;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>The dashboard's device page in headless chromium: registry entry, live state, a command and its reply.</summary>
public sealed class DashboardDevicePageTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    [Fact]
    public async Task DevicePage_ShowsOnlineAndLiveState_AndACommandsReply_FromAnMqtt5Device()
    {
        var id = "page-lamp-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(201, Curl("-X", "POST", $"{_broker.BaseUrl}/api/v1/devices", "-H", "Content-Type: application/json", "--data-binary",
            $$"""{"identifier":"{{id}}","name":"Porch lamp","device_type":"light","controller_gateway":"gw-page"}""").Status);

        // The device: MQTT 5 over WebSocket, client id = identifier, retained state power=off, answers commands.
        using var device = MqttJs.Start(_broker.WebSocketUrl, "device", id, id);
        Assert.True(await device.WaitForAsync(o => o.Contains("\"ready\"", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), device.Output);

        await using var browser = await Chromium.StartAsync();
        await browser.NavigateAsync(_broker.BaseUrl + "/");
        var (ok, text) = await browser.WaitForTextAsync(t => t.Contains(id, StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        Assert.True(ok, "the device list never showed the device:\n" + text);

        // Open it from the list, as a user would.
        Assert.Equal("clicked", await browser.EvaluateAsync($$"""
            (() => { const a = [...document.querySelectorAll('#devices a')].find(a => a.textContent === '{{id}}');
              if (!a) return 'no link'; a.click(); return 'clicked'; })()
            """));
        (ok, text) = await browser.WaitForTextAsync(t => t.Contains("Porch lamp", StringComparison.Ordinal) && t.Contains("(live)", StringComparison.Ordinal)
            && StateOf(browser, "power").Result == "off", TimeSpan.FromSeconds(20));
        Assert.True(ok, "the device page never showed the device live with power=off:\n" + text);
        Assert.Equal("online", await browser.EvaluateAsync("document.getElementById('device-status').textContent"));

        // A state change published over MQTT TCP shows without a reload (SSE).
        var port = _broker.MqttPort.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", $"devices/{id}/state/power", "-m", "on", "-r", "-q", "1"]).ExitCode);
        Assert.True(await DeviceRegistryTests.WaitUntil(() => StateOf(browser, "power").Result == "on"), "the state never became on live");

        // A command with wait: the device's reply is shown.
        await browser.EvaluateAsync("""
            (() => { const f = document.getElementById('command');
              f.command.value = 'toggle'; f.payload.value = 'now'; f.wait.checked = true;
              f.querySelector('button').click(); return 'ok'; })()
            """);
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
            browser.EvaluateAsync("document.getElementById('command-reply').textContent").Result == "ack:toggle:now"),
            "the reply never showed: " + await browser.EvaluateAsync("document.getElementById('command-status').textContent"));

        // The device leaves: the page shows it offline (availability over SSE).
        device.Process.StandardInput.Close();
        Assert.True(await DeviceRegistryTests.WaitUntil(() =>
            browser.EvaluateAsync("document.getElementById('device-status').textContent").Result == "offline"), "never offline");

        var shots = Path.Combine(Repository.Root, "TestResults");
        Directory.CreateDirectory(shots);
        await browser.ScreenshotAsync(Path.Combine(shots, "dashboard-device.png"));
    }

    private static Task<string> StateOf(Chromium browser, string property) => browser.EvaluateAsync($$"""
        (() => { const r = [...document.querySelectorAll('#state tr')].find(r => r.cells[0] && r.cells[0].textContent === '{{property}}');
          return r ? r.cells[1].textContent : ''; })()
        """);
}
