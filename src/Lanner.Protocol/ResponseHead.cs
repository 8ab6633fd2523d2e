using Lanner.Protocol.Marshal;

namespace Lanner.Protocol;

/// <summary>
/// The status and headers an app gave to <c>start_response</c>, as the worker marshalled them:
/// <c>(status, [(name, value), ...])</c>. Decoding checks only the shape (a str status, a list of
/// pairs of str); whether they are valid HTTP is the front end's business.
/// </summary>
public sealed class ResponseHead
{
    public ResponseHead(string status, List<KeyValuePair<string, string>> headers)
    {
        Status = status;
        Headers = headers;
    }

    public string Status { get; }

    public List<KeyValuePair<string, string>> Headers { get; }

    /// <summary>
    /// Decodes the marshalled head. Throws <see cref="ProtocolException"/> when the bytes are not
    /// marshal at all (a broken worker); returns false with <paramref name="problem"/> when they are
    /// marshal of the wrong shape (an app that passed, say, an int as a header value).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> marshal, out ResponseHead? head, out string? problem)
    {
        head = null;
        object? value = MarshalReader.Decode(marshal);
        if (value is not object?[] { Length: 2 } pair)
        {
            problem = "the response head is not a (status, headers) pair";
            return false;
        }

        if (pair[0] is not string status)
        {
            problem = $"status must be a str, not {PythonTypeName(pair[0])}";
            return false;
        }

        if (pair[1] is not object?[] items)
        {
            problem = $"headers must be a list, not {PythonTypeName(pair[1])}";
            return false;
        }

        var headers = new List<KeyValuePair<string, string>>(items.Length);
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i] is not object?[] { Length: 2 } h)
            {
                problem = $"header {i} must be a (name, value) tuple, not {PythonTypeName(items[i])}";
                return false;
            }

            if (h[0] is not string name)
            {
                problem = $"header {i} name must be a str, not {PythonTypeName(h[0])}";
                return false;
            }

            if (h[1] is not string v)
            {
                problem = $"header '{name}' value must be a str, not {PythonTypeName(h[1])}";
                return false;
            }

            headers.Add(new KeyValuePair<string, string>(name, v));
        }

        head = new ResponseHead(status, headers);
        problem = null;
        return true;
    }

    private static string PythonTypeName(object? value) => value switch
    {
        null => "None",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple or list",
        Dictionary<string, object?> => "dict",
        _ => value.GetType().Name,
    };
}
