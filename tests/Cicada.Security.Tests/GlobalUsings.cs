global using Cicada.Testing;

// Where the shared helpers lived before tests/Cicada.Testing: keeps a file that still says
// `using Cicada.Interop.Tests.Infrastructure;` compiling. Delete once no file says it.
namespace Cicada.Interop.Tests.Infrastructure;
