namespace Lanner.Workers;

/// <summary>
/// The part of a request body still with the client, read when the worker pulls it. Implemented
/// by the front over the HTTP connection; at most one read is outstanding at a time.
/// </summary>
public interface IRequestBodySource
{
    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes (at least one unless the body ended); 0 at the end.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}
