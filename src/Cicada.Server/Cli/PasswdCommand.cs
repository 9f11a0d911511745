using System.CommandLine;
using System.Text;
using Cicada.Core.Auth;
using Cicada.Server.Hosting;

namespace Cicada.Server.Cli;

/// <summary>
/// <c>cicada passwd [--file FILE] USERNAME [--password PW] [--delete] [--no-scram] [--scram-iterations N]</c>:
/// adds, updates or deletes a user in the users file. Only hashes are written: the password hash and,
/// unless <c>--no-scram</c>, the SCRAM-SHA-256 credential (RFC 5803 form) that MQTT 5 enhanced
/// authentication checks — it can only be made while the password is known, so here. Without
/// <c>--password</c> the password is read from standard input (one line), or asked for without echo
/// on a terminal.
/// </summary>
internal sealed class PasswdCommand
{
    private readonly CliContext _context;
    private readonly Argument<string> _username = new("USERNAME") { Description = "User to add, update or delete" };
    private readonly Option<string?> _file = new("--file")
    {
        Description = "Users file [default: Auth:UsersFile from the configuration, else <data>/users]",
        HelpName = "FILE",
    };
    private readonly Option<string?> _password = new("--password")
    {
        Description = "The password (visible to other local users in the process list; prefer standard input)",
        HelpName = "PW",
    };
    private readonly Option<bool> _delete = new("--delete") { Description = "Delete the user instead" };
    private readonly Option<bool> _noScram = new("--no-scram")
    {
        Description = "Write only the password hash: the user cannot log in with SCRAM-SHA-256 (MQTT 5 enhanced authentication)",
    };
    private readonly Option<int> _scramIterations = new("--scram-iterations")
    {
        Description = $"PBKDF2 iterations of the SCRAM-SHA-256 credential (at least {ScramSha256.MinIterations}, RFC 7677) [default: {ScramSha256.DefaultIterations}]",
        HelpName = "N",
        DefaultValueFactory = _ => ScramSha256.DefaultIterations,
    };
    private readonly Option<string?> _data = CicadaCli.DataOption();
    private readonly Option<string?> _config = CicadaCli.ConfigOption();

    public PasswdCommand(CliContext context)
    {
        _context = context;
        Command = new Command("passwd", "Add, update or delete a user in the users file")
        {
            _username, _file, _password, _delete, _noScram, _scramIterations, _data, _config,
        };
        Command.SetAction(Run);
    }

    public Command Command { get; }

    private int Run(ParseResult parseResult)
    {
        var username = parseResult.GetValue(_username) ?? string.Empty;
        var error = _context.Error;
        if (!UsersFile.IsValidUsername(username))
        {
            error.WriteLine($"cicada passwd: '{username}' is not a valid username (not empty, no ':', no control characters or surrounding spaces)");
            return CicadaCli.ExitUsage;
        }
        var delete = parseResult.GetValue(_delete);
        var givenPassword = parseResult.GetValue(_password);
        if (delete && givenPassword is not null)
        {
            error.WriteLine("cicada passwd: --delete takes no --password");
            return CicadaCli.ExitUsage;
        }

        var scramIterations = parseResult.GetValue(_scramIterations);
        if (scramIterations is < ScramSha256.MinIterations or > ScramSha256.MaxIterations)
        {
            error.WriteLine($"cicada passwd: --scram-iterations must be between {ScramSha256.MinIterations} and {ScramSha256.MaxIterations}");
            return CicadaCli.ExitUsage;
        }

        var path = ResolveFile(parseResult);
        if (path is null)
            return CicadaCli.ExitUsage;

        try
        {
            if (delete)
            {
                if (!UsersFile.RemoveUser(path, username))
                {
                    error.WriteLine($"cicada passwd: no user '{username}' in {path}");
                    return CicadaCli.ExitFailure;
                }
                _context.Out.WriteLine($"Deleted user {username} from {path}");
                return CicadaCli.ExitOk;
            }

            var password = givenPassword ?? ReadPassword();
            if (password is null)
                return CicadaCli.ExitUsage;
            if (password.Length == 0)
            {
                error.WriteLine("cicada passwd: the password must not be empty");
                return CicadaCli.ExitUsage;
            }

            var scram = parseResult.GetValue(_noScram) ? null : ScramSha256.CreateCredential(password, scramIterations);
            var existed = UsersFile.SetUser(path, username, PasswordHasher.Hash(password), scram);
            _context.Out.WriteLine($"{(existed ? "Updated" : "Added")} user {username} in {path}");
            return CicadaCli.ExitOk;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"cicada passwd: {path}: {ex.Message}");
            return CicadaCli.ExitFailure;
        }
    }

    private string? ResolveFile(ParseResult parseResult)
    {
        if (parseResult.GetValue(_file) is { } file)
            return Path.GetFullPath(file);

        var commandLine = new Dictionary<string, string?>();
        if (parseResult.GetValue(_data) is { } data)
            commandLine[CicadaConfiguration.StorageDataDir] = data;
        var configuration = CicadaCli.BuildConfiguration(_context, parseResult.GetValue(_config), commandLine);
        if (configuration is null)
            return null;
        var configured = configuration[CicadaConfiguration.AuthUsersFile];
        if (!string.IsNullOrWhiteSpace(configured))
            return Path.GetFullPath(configured);
        var dataDirectory = configuration[CicadaConfiguration.StorageDataDir];
        return ServerSettings.DefaultUsersFile(string.IsNullOrWhiteSpace(dataDirectory) ? "." : dataDirectory);
    }

    private string? ReadPassword()
    {
        if (!_context.InputIsTerminal)
        {
            var line = _context.In.ReadLine();
            if (line is null)
                _context.Error.WriteLine("cicada passwd: no password on standard input (give one line, or --password)");
            return line;
        }

        var first = Prompt("Password: ");
        var second = Prompt("Retype password: ");
        if (first != second)
        {
            _context.Error.WriteLine("cicada passwd: the passwords do not match");
            return null;
        }
        return first;
    }

    /// <summary>Reads a line from the terminal without echoing it.</summary>
    private string Prompt(string prompt)
    {
        _context.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                    text.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
        _context.Error.WriteLine();
        return text.ToString();
    }
}
