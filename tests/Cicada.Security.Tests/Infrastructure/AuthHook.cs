using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cicada.Security.Tests.Infrastructure;

/// <summary>
/// A tiny authentication hook on a free loopback port: allows exactly the user/password pairs it is
/// given (<c>{"allow": true}</c>), answers <c>{"allow": false}</c> to everyone else, and records
/// every request body it receives.
/// </summary>
public sealed class AuthHook : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly IReadOnlyDictionary<string, string> _allowed;
    private readonly Task _loop;
    private readonly ConcurrentQueue<JsonElement> _requests = new();

    private AuthHook(HttpListener listener, int port, IReadOnlyDictionary<string, string> allowed)
    {
        _listener = listener;
        _allowed = allowed;
        Url = $"http://127.0.0.1:{port}/auth";
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>Every request body received, in order.</summary>
    public IReadOnlyList<JsonElement> Requests => [.. _requests];

    public int CallsFor(string username) =>
        Requests.Count(r => r.TryGetProperty("username", out var u) && u.GetString() == username);

    public static AuthHook Start(IReadOnlyDictionary<string, string> allowed)
    {
        // A port picked free can be taken before we bind it: try a few.
        for (var attempt = 0; ; attempt++)
        {
            var port = TestPorts.FreeTcpPort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new AuthHook(listener, port, allowed);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    /// <summary>
    /// A hook that is down: a loopback port bound but never listening, so connecting is refused, and
    /// held by the returned socket so no other test's listener can take it meanwhile.
    /// </summary>
    public static (Socket Holder, string Url) Dead()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (socket, $"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}/auth");
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                // The broker gave up on this request (its timeout); the next one is served all the same.
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone();
        _requests.Enqueue(body);
        var allow = body.GetProperty("username").GetString() is { } user && _allowed.TryGetValue(user, out var password)
            && body.GetProperty("password").GetString() == password;
        var answer = Encoding.UTF8.GetBytes(allow ? """{"allow": true}""" : """{"allow": false}""");
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.OutputStream.WriteAsync(answer);
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
