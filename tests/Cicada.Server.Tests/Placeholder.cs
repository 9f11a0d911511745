namespace Cicada.Server.Tests;
