using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Cicada.Microbench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
