using System.Text.Json;
using Cicada.Http.Tests.Support;
using static Cicada.Testing.Tools;

namespace Cicada.Http.Tests;

/// <summary><c>/api/v1/topics/{topic}</c> with curl against the real broker.</summary>
public sealed class TopicRestTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private readonly string _base = fixture.Broker.BaseUrl;

    [Fact]
    public void RetainedPublish_IsReturnedByGet_WithItsContentType()
    {
        var (status, body, _) = Curl("-X", "POST", $"{_base}/api/v1/topics/rest/a/temp?qos=1&retain=true",
            "-H", "Content-Type: application/json", "--data-binary", "{\"c\":21.5}");
        Assert.Equal(200, status);
        Assert.Equal(1, JsonDocument.Parse(body).RootElement.GetProperty("qos").GetInt32());

        var (getStatus, payload, headers) = Curl($"{_base}/api/v1/topics/rest/a/temp");
        Assert.Equal(200, getStatus);
        Assert.Equal("{\"c\":21.5}", payload);
        Assert.Contains("Content-Type: application/json", headers, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Put_PublishesLikePost()
    {
        Assert.Equal(200, Curl("-X", "PUT", $"{_base}/api/v1/topics/rest/put?retain=1", "--data-binary", "v").Status);
        Assert.Equal("v", Curl($"{_base}/api/v1/topics/rest/put").Body);
    }

    [Fact]
    public void Get_WithoutRetainedMessage_Is404ProblemJson()
    {
        var (status, body, headers) = Curl($"{_base}/api/v1/topics/rest/never/published");
        Assert.Equal(404, status);
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal(404, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public void NonRetainedPublish_LeavesNothingToGet()
    {
        Assert.Equal(200, Curl("-X", "POST", $"{_base}/api/v1/topics/rest/transient", "--data-binary", "x").Status);
        Assert.Equal(404, Curl($"{_base}/api/v1/topics/rest/transient").Status);
    }

    [Fact]
    public void Delete_ClearsTheRetainedMessage_MQTT_3_3_1_10()
    {
        Curl("-X", "POST", $"{_base}/api/v1/topics/rest/del?retain=true", "--data-binary", "x");
        Assert.Equal(204, Curl("-X", "DELETE", $"{_base}/api/v1/topics/rest/del").Status);
        Assert.Equal(404, Curl($"{_base}/api/v1/topics/rest/del").Status);
        Assert.Equal(404, Curl("-X", "DELETE", $"{_base}/api/v1/topics/rest/del").Status);
    }

    [Theory]
    [InlineData("rest/%2B/x")]   // '+' in a topic name (MQTT-4.7.1-1)
    [InlineData("rest/%23")]     // '#'
    [InlineData("rest/a+b")]
    public void WildcardInTopicName_Is400NamingTheTopic_MQTT_4_7_1_1(string topic)
    {
        var (status, body, headers) = Curl("-X", "POST", $"{_base}/api/v1/topics/{topic}", "--data-binary", "x");
        Assert.Equal(400, status);
        Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
        Assert.Equal("topic", JsonDocument.Parse(body).RootElement.GetProperty("field").GetString());
    }

    [Theory]
    [InlineData("qos=3", "qos")]
    [InlineData("qos=x", "qos")]
    [InlineData("retain=maybe", "retain")]
    public void BadQueryParameter_Is400NamingIt(string query, string field)
    {
        var (status, body, _) = Curl("-X", "POST", $"{_base}/api/v1/topics/rest/q?{query}", "--data-binary", "x");
        Assert.Equal(400, status);
        Assert.Equal(field, JsonDocument.Parse(body).RootElement.GetProperty("field").GetString());
    }

    [Fact]
    public void BodyOverTheLimit_Is413_AndNothingIsPublished()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, new byte[1024 * 1024 + 1]); // default Http:MaxBodySize is 1 MiB
            var (status, _, headers) = Curl("-X", "POST", $"{_base}/api/v1/topics/rest/big?retain=true", "--data-binary", "@" + file);
            Assert.Equal(413, status);
            Assert.Contains("application/problem+json", headers, StringComparison.Ordinal);
            Assert.Equal(404, Curl($"{_base}/api/v1/topics/rest/big").Status);

            // Chunked (no Content-Length): refused once the bytes pass the limit.
            var chunked = Curl("-X", "POST", $"{_base}/api/v1/topics/rest/big?retain=true", "-H", "Transfer-Encoding: chunked",
                "--data-binary", "@" + file);
            Assert.Equal(413, chunked.Status);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void BinaryPayload_RoundTripsByteForByte()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var file = Path.GetTempFileName();
        var output = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, bytes);
            Assert.Equal(200, Curl("-X", "POST", $"{_base}/api/v1/topics/rest/bin?retain=true", "-H", "Content-Type: application/octet-stream",
                "--data-binary", "@" + file).Status);
            Assert.Equal(200, Curl("-o", output, $"{_base}/api/v1/topics/rest/bin").Status);
            Assert.Equal(bytes, File.ReadAllBytes(output));
        }
        finally
        {
            File.Delete(file);
            File.Delete(output);
        }
    }
}
