using System.Globalization;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>The dashboard at <c>/</c> in a real browser (headless Debian chromium).</summary>
public sealed class DashboardTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly BrokerProcess _broker = fixture.Broker;

    [Fact]
    public async Task Dashboard_ShowsARestDevice_OnlineOverMqtt_MqttRetainedAndLiveMessages_AndPublishes()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var device = $"dash-lamp-{tag}";
        var port = _broker.MqttPort.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(201, Curl("-X", "POST", $"{_broker.BaseUrl}/api/v1/devices", "-H", "Content-Type: application/json", "--data-binary",
            $$"""{"identifier":"{{device}}","name":"Hall lamp","device_type":"light","controller_gateway":"gw-dash"}""").Status);
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", $"dash{tag}/hall/light", "-m", "retained-on", "-r"]).ExitCode);

        // The device's own MQTT connection makes it online.
        using var deviceClient = Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-i", device, "-t", $"dash{tag}/cmd"]);

        await using var browser = await Chromium.StartAsync();
        await browser.NavigateAsync(_broker.BaseUrl + "/");
        var (ok, text) = await browser.WaitForTextAsync(t =>
            t.Contains(device, StringComparison.Ordinal) && t.Contains("online", StringComparison.Ordinal)
            && t.Contains($"dash{tag}/hall/light", StringComparison.Ordinal) && t.Contains("retained-on", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20));
        Assert.True(ok, "dashboard never showed the device online and the retained message:\n" + text);

        // The live feed (SSE in the browser) shows a message published over MQTT after the page loaded.
        Assert.True(await DeviceRegistryTests.WaitUntil(() => browser.EvaluateAsync("document.getElementById('feed-state').textContent").Result.Contains('#')),
            "the live feed never opened");
        Assert.Equal(0, Run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", $"dash{tag}/live", "-m", "live-hello"]).ExitCode);
        (ok, text) = await browser.WaitForTextAsync(t => t.Contains("live-hello", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.True(ok, "the live feed never showed the MQTT message:\n" + text);

        // The publish form publishes through REST.
        await browser.EvaluateAsync($$"""
            (() => { const f = document.getElementById('publish');
              f.topic.value = 'dash{{tag}}/from-browser'; f.payload.value = 'clicked'; f.retain.checked = true;
              f.querySelector('button').click(); return 'ok'; })()
            """);
        Assert.True(await DeviceRegistryTests.WaitUntil(() => Curl($"{_broker.BaseUrl}/api/v1/topics/dash{tag}/from-browser").Body == "clicked"),
            "the form's publish never arrived");

        var shots = Path.Combine(Repository.Root, "TestResults");
        Directory.CreateDirectory(shots);
        await browser.ScreenshotAsync(Path.Combine(shots, "dashboard.png"));
    }
}
