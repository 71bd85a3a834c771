using System.Management.Automation;

namespace TunnelPS.Configuration;

/// <summary>A secret could not be read or stored; <see cref="ErrorRecord"/> is what the cmdlet throws.</summary>
internal sealed class SecretResolutionException : Exception
{
    internal SecretResolutionException(ErrorRecord errorRecord)
        : base(errorRecord.Exception.Message, errorRecord.Exception)
    {
        ErrorRecord = errorRecord;
    }

    /// <summary>The record to throw, with its id, category and the secret as target.</summary>
    internal ErrorRecord ErrorRecord { get; }
}
