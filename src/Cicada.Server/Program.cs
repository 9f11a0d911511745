using Cicada.Server.Cli;

return await CicadaCli.RunAsync(args, CliContext.FromProcess());
