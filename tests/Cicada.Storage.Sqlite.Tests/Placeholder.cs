namespace Cicada.Storage.Sqlite.Tests;
