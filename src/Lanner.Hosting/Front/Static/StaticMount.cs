namespace Lanner.Hosting.Front.Static;

/// <summary>One --static mapping: requests under <see cref="Prefix"/> are files under <see cref="Root"/>.</summary>
/// <param name="Prefix">URL prefix, starting and ending with '/'.</param>
/// <param name="Root">Absolute directory, without a trailing '/', with symlinks resolved.</param>
public sealed record StaticMount(string Prefix, string Root);
