namespace TunnelPS.Engine.Acme;

/// <summary>
/// An ACME operation failed: the directory answered with a problem document (RFC 8555 6.7, RFC 7807), gave an answer
/// the client cannot use, or did not answer in time.
/// </summary>
public sealed class AcmeException : TunnelException
{
    public AcmeException(string message) : base(message) { }

    public AcmeException(string message, Exception inner) : base(message, inner) { }

    public AcmeException(string message, string? problemType, string? problemDetail) : base(message)
    {
        ProblemType = problemType;
        ProblemDetail = problemDetail;
    }

    /// <summary>The problem document's type (urn:ietf:params:acme:error:...), when the directory sent one.</summary>
    public string? ProblemType { get; }

    /// <summary>The problem document's detail, when the directory sent one.</summary>
    public string? ProblemDetail { get; }

    public override TunnelErrorKind Kind => TunnelErrorKind.Connection;
}
