using System.Text;
using Cicada.Coap.Protocol;
using Cicada.Core;

namespace Cicada.Coap.Tests;

/// <summary>RFC 6690 resource discovery at <c>/.well-known/core</c>.</summary>
public sealed class DiscoveryTests
{
    private static async Task<(CoapMessage Response, string Links)> DiscoverAsync(CoapHarness coap, params string[] query)
    {
        var response = await coap.ExchangeAsync(CoapHarness.Request(CoapType.Confirmable, CoapCode.Get, coap.NextId(), ".well-known/core", query));
        return (response, Encoding.UTF8.GetString(response.Payload.Span));
    }

    private static async Task SeedAsync(CoapHarness coap)
    {
        await coap.Broker.PublishAsync(new Message("home/temp", "1"u8.ToArray(), QoS.AtMostOnce, true, new MessageProperties { ContentType = "application/json" }));
        await coap.Broker.PublishAsync(new Message("home/door state", "open"u8.ToArray(), QoS.AtMostOnce, true));
        await coap.Broker.PublishAsync(new Message("$SYS/uptime", "1"u8.ToArray(), QoS.AtMostOnce, true));
    }

    [Fact]
    public async Task RFC6690_2_ListsThePubSubCollectionAndRetainedTopics_InLinkFormat()
    {
        await using var coap = await CoapHarness.StartAsync();
        await SeedAsync(coap);

        var (response, links) = await DiscoverAsync(coap);

        Assert.Equal(CoapCode.Content, response.Code);
        Assert.Equal((uint)ContentFormats.LinkFormat, response.GetUInt(CoapOptionNumber.ContentFormat));
        Assert.Equal("</ps>;rt=\"core.ps\";ct=40,</ps/home/door%20state>;rt=\"core.ps.data\";obs,</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs", links);
    }

    [Theory]
    [InlineData("rt=core.ps", "</ps>;rt=\"core.ps\";ct=40")]
    [InlineData("href=/ps/home/t*", "</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs")]
    [InlineData("ct=50", "</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs")]
    [InlineData("rt=nothing", "")]
    [InlineData("if=core.ps", "")] // no link has an interface description: a filter on it lists nothing
    [InlineData("title=x", "")]
    [InlineData("obs", "</ps/home/door%20state>;rt=\"core.ps.data\";obs,</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs")]
    [InlineData("rt=core.ps*", "</ps>;rt=\"core.ps\";ct=40,</ps/home/door%20state>;rt=\"core.ps.data\";obs,</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs")]
    [InlineData("c=lister", "</ps>;rt=\"core.ps\";ct=40,</ps/home/door%20state>;rt=\"core.ps.data\";obs,</ps/home/temp>;rt=\"core.ps.data\";ct=50;obs")] // credentials are no filter
    public async Task RFC6690_4_1_QueryFilters(string query, string expected)
    {
        await using var coap = await CoapHarness.StartAsync();
        await SeedAsync(coap);

        var (_, links) = await DiscoverAsync(coap, query);

        Assert.Equal(expected, links);
    }

    [Fact]
    public async Task RFC6690_LargeListing_GoesBlockWise()
    {
        await using var coap = await CoapHarness.StartAsync();
        for (var i = 0; i < 60; i++)
        {
            await coap.Broker.PublishAsync(new Message($"many/topic-{i:D3}", "x"u8.ToArray(), QoS.AtMostOnce, true));
        }

        var (response, _) = await DiscoverAsync(coap);

        Assert.True(BlockOption.TryDecode(response.GetUInt(CoapOptionNumber.Block2)!.Value, out var block));
        Assert.True(block.More);
        Assert.True(response.GetUInt(CoapOptionNumber.Size2) > 1024);
    }
}
