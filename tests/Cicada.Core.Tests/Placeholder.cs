namespace Cicada.Core.Tests;
