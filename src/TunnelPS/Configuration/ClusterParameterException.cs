namespace TunnelPS.Configuration;

/// <summary>
/// A cluster setting of Start-TunnelServer is wrong. When <see cref="Parameter"/> is set and its value came from the
/// server config file, the cmdlet points at <see cref="FileKey"/> in the file; otherwise it is an argument error.
/// </summary>
internal sealed class ClusterParameterException : Exception
{
    internal ClusterParameterException(string message, object target, string? parameter = null, string? fileKey = null, Exception? inner = null)
        : base(message, inner)
    {
        Target = target;
        Parameter = parameter;
        FileKey = fileKey;
    }

    /// <summary>The value the error is about (the error record's target).</summary>
    internal object Target { get; }

    /// <summary>The parameter whose value is wrong, or null when the error is about the parameters together.</summary>
    internal string? Parameter { get; }

    /// <summary>The key in the server config file that sets <see cref="Parameter"/>, or null.</summary>
    internal string? FileKey { get; }
}
