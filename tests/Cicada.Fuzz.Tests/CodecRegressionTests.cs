using Cicada.Amqp.Protocol;

namespace Cicada.Fuzz.Tests;

/// <summary>Inputs the fuzzer found that broke a decoder, kept as plain tests after the fix.</summary>
public sealed class CodecRegressionTests
{
    /// <summary>
    /// AMQP 0-9-1 §4.2.5.5 decimal ('D': scale octet, signed long value): the value -2^31 made
    /// Math.Abs throw OverflowException, which escaped the codec instead of a 502 syntax error or a
    /// value (found by the amqp fuzz run, FUZZ_SEED=471665996, in a queue.declare argument table).
    /// </summary>
    [Fact]
    public void Fuzz_amqp_decimal_of_int_min_value_decodes()
    {
        byte[] table = [0, 0, 0, 8, 1, (byte)'p', (byte)'D', 2, 0x80, 0, 0, 0];
        var reader = new AmqpReader(table);

        var value = Assert.Single(reader.ReadTable()).Value;

        Assert.Equal(-21474836.48m, value);
    }

    /// <summary>
    /// AMQP 0-9-1 §4.2.5.5: a field table may nest tables and arrays; one frame (frame-max up to
    /// 128 KiB here) can nest them twenty thousand deep, six octets a level, and the recursive
    /// reader ran out of stack (a crash of the whole broker, not an exception). Nesting is bounded
    /// now: too deep is a 502 syntax error.
    /// </summary>
    [Fact]
    public void Fuzz_amqp_deeply_nested_field_tables_are_a_syntax_error_not_a_stack_overflow()
    {
        const int depth = 20_000;
        // Each level: the table's length (everything after it), then one entry: name "" and type
        // 'F' holding the next level; the innermost 'F' holds an empty table (length 0).
        var bytes = new byte[depth * 6 + 4];
        for (var level = 0; level < depth; level++)
        {
            var at = level * 6;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), (uint)(bytes.Length - at - 4));
            bytes[at + 5] = (byte)'F';
        }

        var ex = Assert.Throws<AmqpException>(() => new AmqpReader(bytes).ReadTable());
        Assert.Equal(ReplyCode.SyntaxError, ex.Code);
    }

    /// <summary>An array nested in arrays, the other recursive field type ('A').</summary>
    [Fact]
    public void Fuzz_amqp_deeply_nested_field_arrays_are_a_syntax_error_not_a_stack_overflow()
    {
        const int depth = 30_000;

        // Each level: 'A' and the array's length (everything after it); the innermost is empty.
        var bytes = new byte[depth * 5];
        for (var level = 0; level < depth; level++)
        {
            var at = level * 5;
            bytes[at] = (byte)'A';
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 1), (uint)(bytes.Length - at - 5));
        }

        var ex = Assert.Throws<AmqpException>(() => new AmqpReader(bytes).ReadFieldValue());
        Assert.Equal(ReplyCode.SyntaxError, ex.Code);
    }
}
