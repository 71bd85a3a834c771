namespace TunnelPS.Engine.Diagnostics;

/// <summary>Raises events so that a subscriber's exception never reaches the engine's loops.</summary>
internal static class EventRaiser
{
    public static void Raise(EventHandler? handler, object sender)
    {
        if (handler is null)
        {
            return;
        }
        try
        {
            handler(sender, EventArgs.Empty);
        }
#pragma warning disable CA1031 // A subscriber's failure must not break a tunnel.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
