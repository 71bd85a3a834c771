namespace TunnelPS.Arm64Check;

/// <summary>A check saw something other than what it expected.</summary>
internal sealed class CheckFailedException : Exception
{
    public CheckFailedException()
    {
    }

    public CheckFailedException(string message)
        : base(message)
    {
    }

    public CheckFailedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new CheckFailedException(message);
        }
    }
}
