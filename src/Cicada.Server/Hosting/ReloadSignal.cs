using System.Runtime.InteropServices;
using Cicada.Core.Auth;

namespace Cicada.Server.Hosting;

/// <summary>
/// SIGHUP re-reads the users file, the ACL file and the TLS certificate, key and CA file, as
/// mosquitto and most Unix daemons do (<c>systemctl reload</c>, <c>kill -HUP</c>). They are also
/// re-read on their own when they change; the signal is for an operator who wants it now, or whose
/// editor kept the file's time and size. Nothing is restarted and no connection is dropped: a
/// connection keeps the login and TLS session it has, and the new contents apply from the next
/// login, handshake, subscription or publish. Each file logs one line: what changed, or why it was
/// refused (a broken file keeps the previous contents).
/// </summary>
public sealed partial class ReloadSignal : IHostedService, IDisposable
{
    private readonly UsersFileAuthenticator _users;
    private readonly IAuthorizer _authorizer;
    private readonly TlsSettings? _tls;
    private readonly ILogger _logger;
    private readonly ILogger _tlsLogger;
    private readonly Lock _reloading = new();
    private PosixSignalRegistration? _registration;

    public ReloadSignal(UsersFileAuthenticator users, IAuthorizer authorizer, ServerSettings settings, ILoggerFactory loggers)
    {
        _users = users;
        _authorizer = authorizer;
        _tls = settings.Tls;
        _logger = loggers.CreateLogger("Cicada.Server.Reload");
        _tlsLogger = loggers.CreateLogger("Cicada.Tls");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
        {
            // Without a registration the runtime applies SIGHUP's default action: the process ends.
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                // The signal handler's thread must not block on file I/O.
                _ = Task.Run(() => Reload("SIGHUP"), CancellationToken.None);
            });
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Re-reads every file now; <paramref name="trigger"/> names why in the log lines.</summary>
    public void Reload(string trigger)
    {
        // Two signals in quick succession reload one after the other, never interleaved.
        lock (_reloading)
        {
            LogReloading(_logger, trigger);
            Try("users file", () => _users.Reload(trigger));
            if (_authorizer is AclFileAuthorizer acl)
                Try("ACL file", () => acl.Reload(trigger, force: true));
            if (_tls is { } tls)
                Try("TLS certificate", () => tls.Reload(trigger, _tlsLogger));
        }
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _registration = null;
    }

    private void Try(string what, Action reload)
    {
        try
        {
            reload();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException
            or ArgumentException or InvalidOperationException)
        {
            // Each reload keeps the previous contents on its own errors; this is the net under them.
            LogReloadFailed(_logger, what, ex.Message);
        }
    }

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "{Trigger}: reloading the users file, the ACL file and the TLS certificates")]
    private static partial void LogReloading(ILogger logger, string trigger);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "Reloading the {What} failed, the previous one stays in force: {Error}")]
    private static partial void LogReloadFailed(ILogger logger, string what, string error);
}
