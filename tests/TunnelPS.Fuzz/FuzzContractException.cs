namespace TunnelPS.Fuzz;

/// <summary>A parser answered but broke one of its promises; thrown by the fuzz targets, so it is always a finding.</summary>
internal sealed class FuzzContractException : Exception
{
    public FuzzContractException() : base("A parser broke its contract.") { }
    public FuzzContractException(string message) : base(message) { }
    public FuzzContractException(string message, Exception inner) : base(message, inner) { }
}
