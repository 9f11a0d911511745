using Microsoft.Data.Sqlite;

namespace Cicada.Storage.Sqlite;

/// <summary>
/// One SQL statement prepared once on the writer connection and reused for every batch:
/// Microsoft.Data.Sqlite keeps the compiled sqlite3_stmt as long as the command text is unchanged,
/// so each execution only rebinds parameters.
/// </summary>
internal sealed class PreparedStatement : IDisposable
{
    private readonly SqliteCommand _command;
    private readonly SqliteParameter[] _parameters;

    public PreparedStatement(SqliteConnection connection, string sql, params string[] parameterNames)
    {
        _command = connection.CreateCommand();
        _command.CommandText = sql;
        _parameters = new SqliteParameter[parameterNames.Length];
        for (var i = 0; i < parameterNames.Length; i++)
        {
            _parameters[i] = _command.Parameters.Add(new SqliteParameter(parameterNames[i], DBNull.Value));
        }

        // Compile now so a wrong statement fails InitializeAsync, not the first batch.
        _command.Prepare();
    }

    public PreparedStatement Bind(int index, object? value)
    {
        _parameters[index].Value = value ?? DBNull.Value;
        return this;
    }

    /// <summary>Runs the statement inside <paramref name="transaction"/>; returns the rows changed.</summary>
    public int Execute(SqliteTransaction transaction)
    {
        _command.Transaction = transaction;
        return _command.ExecuteNonQuery();
    }

    public object? Scalar(SqliteTransaction transaction)
    {
        _command.Transaction = transaction;
        return _command.ExecuteScalar();
    }

    public void Dispose() => _command.Dispose();
}
