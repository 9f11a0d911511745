namespace Cicada.Interop.Tests;
