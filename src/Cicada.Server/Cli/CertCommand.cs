using System.CommandLine;
using System.Security.Cryptography;
using Cicada.Server.Hosting;

namespace Cicada.Server.Cli;

/// <summary>
/// <c>cicada cert dev [--out DIR] [--client-cn NAME] [--host NAME]… [--force]</c>: writes a
/// development CA, a server certificate for localhost and a client certificate (PEM), and prints
/// the configuration that uses them.
/// </summary>
internal sealed class CertCommand
{
    private readonly CliContext _context;
    private readonly Option<string?> _out = new("--out")
    {
        Description = "Folder the PEM files are written to [default: ./certs]",
        HelpName = "DIR",
    };
    private readonly Option<string?> _clientCn = new("--client-cn")
    {
        Description = $"CN of the client certificate (the username when Tls:UseCertificateCnAsUsername is on) [default: {DevCertificates.DefaultClientCommonName}]",
        HelpName = "NAME",
    };
    private readonly Option<string[]> _hosts = new("--host")
    {
        Description = "Another host name or IP address for the server certificate, beside localhost, 127.0.0.1 and ::1 (repeatable)",
        HelpName = "NAME",
    };
    private readonly Option<bool> _force = new("--force") { Description = "Overwrite existing files" };

    public CertCommand(CliContext context)
    {
        _context = context;
        var dev = new Command("dev", "Make a self-signed development CA, a server certificate for localhost and a client certificate (PEM)")
        {
            _out, _clientCn, _hosts, _force,
        };
        dev.SetAction(RunDev);
        Command = new Command("cert", "TLS certificate helpers") { dev };
    }

    public Command Command { get; }

    private int RunDev(ParseResult parseResult)
    {
        var directory = Path.GetFullPath(parseResult.GetValue(_out) ?? "certs");
        var clientCn = parseResult.GetValue(_clientCn) ?? DevCertificates.DefaultClientCommonName;
        if (clientCn.Length == 0 || clientCn.Any(char.IsControl))
        {
            _context.Error.WriteLine($"cicada cert dev: '{clientCn}' is not a usable CN");
            return CicadaCli.ExitUsage;
        }

        if (!parseResult.GetValue(_force))
        {
            var existing = DevCertificates.FileNames.Select(n => Path.Combine(directory, n)).Where(File.Exists).ToList();
            if (existing.Count > 0)
            {
                _context.Error.WriteLine($"cicada cert dev: {string.Join(", ", existing)} already exist(s); use --force to overwrite");
                return CicadaCli.ExitFailure;
            }
        }

        try
        {
            foreach (var path in DevCertificates.Create(directory, clientCn, parseResult.GetValue(_hosts)))
                _context.Out.WriteLine($"wrote {path}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            _context.Error.WriteLine($"cicada cert dev: {directory}: {ex.Message}");
            return CicadaCli.ExitFailure;
        }

        string Json(string name) => System.Text.Json.JsonEncodedText.Encode(Path.Combine(directory, name)).ToString();
        _context.Out.WriteLine($$"""

            Development certificates only (the CA key sits beside them). To serve MQTT over TLS on 8883,
            put this in a --config file (or set CICADA_TLS__CERTIFICATEFILE and CICADA_TLS__KEYFILE):

              { "Tls": { "CertificateFile": "{{Json(DevCertificates.ServerCertificate)}}",
                         "KeyFile": "{{Json(DevCertificates.ServerKey)}}",
                         "ClientCertificateMode": "allow",
                         "CaFile": "{{Json(DevCertificates.CaCertificate)}}" } }

            then try:
              mosquitto_sub -h localhost -p 8883 --cafile {{Path.Combine(directory, DevCertificates.CaCertificate)}} -t '#' -v
              mosquitto_pub -h localhost -p 8883 --cafile {{Path.Combine(directory, DevCertificates.CaCertificate)}} --cert {{Path.Combine(directory, DevCertificates.ClientCertificate)}} --key {{Path.Combine(directory, DevCertificates.ClientKey)}} -t hello -m world
            """);
        return CicadaCli.ExitOk;
    }
}
