using System.Globalization;
using System.Management.Automation;

namespace TunnelPS.Commands;

/// <summary>Lets a TimeSpan parameter take a number of seconds too: <c>-Timeout 30</c> or <c>-Timeout (New-TimeSpan -Minutes 2)</c>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class TimeoutTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>Turns a number (or numeric string) into that many seconds; leaves anything else to PowerShell's conversion.</summary>
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject psObject ? psObject.BaseObject : inputData;
        return value switch
        {
            int or long or short or byte => TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
            double or float or decimal => TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
            string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) => TimeSpan.FromSeconds(seconds),
            _ => inputData,
        };
    }
}
