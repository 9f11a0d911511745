using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary>Health, OpenAPI, Prometheus metrics and the retained listing.</summary>
public sealed class BrokerStateTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly string _base = fixture.Broker.BaseUrl;

    [Fact]
    public void Healthz_IsOk()
    {
        var (status, body, _) = Curl($"{_base}/healthz");
        Assert.Equal(200, status);
        Assert.Equal("ok", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public void OpenApiDocument_DescribesTheApi()
    {
        var (status, body, _) = Curl($"{_base}/openapi/v1.json");
        Assert.Equal(200, status);
        var paths = JsonDocument.Parse(body).RootElement.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/topics/{topic}", "/api/v1/devices", "/api/v1/devices/{identifier}", "/api/v1/stream", "/api/v1/clients", "/healthz" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} missing from the OpenAPI document");
        }
    }

    [Fact]
    public void Metrics_ArePrometheusText_WithCicadaNames()
    {
        var prefix = "m" + Guid.NewGuid().ToString("N")[..8];
        Curl("-X", "POST", $"{_base}/api/v1/topics/{prefix}/x?retain=true", "--data-binary", "1");

        var (status, body, headers) = Curl($"{_base}/metrics");
        Assert.Equal(200, status);
        Assert.Contains("text/plain", headers, StringComparison.Ordinal);
        var retained = body.Split('\n').Single(l => l.StartsWith("cicada_retained_messages{", StringComparison.Ordinal) || l.StartsWith("cicada_retained_messages ", StringComparison.Ordinal));
        Assert.True(double.Parse(retained.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture) >= 1, retained);
        Assert.Contains("# TYPE cicada_messages_received_total counter", body, StringComparison.Ordinal);
        Assert.Contains("cicada_sessions", body, StringComparison.Ordinal);
        Assert.Contains("cicada_queue_depth", body, StringComparison.Ordinal);
    }

    [Fact]
    public void Retained_RejectsABadFilter()
    {
        Assert.Equal(400, Curl($"{_base}/api/v1/retained?filter=a%23").Status);
    }

    [Fact]
    public void UnknownDashboardFile_Is404()
    {
        Assert.Equal(404, Curl($"{_base}/dashboard/nope.js").Status);
        var (status, body, headers) = Curl($"{_base}/");
        Assert.Equal(200, status);
        Assert.Contains("text/html", headers, StringComparison.Ordinal);
        Assert.Contains("/dashboard/app.js", body, StringComparison.Ordinal);
    }
}
