using System.Management.Automation;
using System.Management.Automation.Runspaces;
using TunnelPS.Engine.Acme;

namespace TunnelPS.Hosting;

/// <summary>
/// Start-TunnelServer -AcmeDnsScript: the admin's scriptblock, called with -Name, -Value and -Action Add or Remove for
/// each DNS-01 TXT record, so that any DNS provider with a PowerShell module can answer DNS-01. It runs in a runspace
/// of its own (opened on first use, one call at a time), never on the pipeline thread of the cmdlet, which has
/// returned long before an order runs. The scriptblock is recreated there from its text, so it sees its parameters and
/// the modules it imports, not the variables of the session that defined it.
/// </summary>
internal sealed class AcmeDnsScriptRunner : IAcmeDnsProvider, IDisposable
{
    private readonly string _script;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Runspace? _runspace;

    public AcmeDnsScriptRunner(ScriptBlock script)
    {
        ArgumentNullException.ThrowIfNull(script);
        _script = script.ToString();
    }

    public Task AddAsync(string name, string value, CancellationToken cancellationToken) => RunAsync(name, value, "Add", cancellationToken);

    public Task RemoveAsync(string name, string value, CancellationToken cancellationToken) => RunAsync(name, value, "Remove", cancellationToken);

    private async Task RunAsync(string name, string value, string action, CancellationToken token)
    {
        await _gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (_runspace is null)
            {
                _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
                _runspace.Open();
            }

            using var shell = PowerShell.Create();
            shell.Runspace = _runspace;
            shell.AddScript(_script).AddParameter("Name", name).AddParameter("Value", value).AddParameter("Action", action);
            using CancellationTokenRegistration stop = token.Register(() => shell.BeginStop(null, null));
            try
            {
                await Task.Factory.FromAsync(shell.BeginInvoke(), shell.EndInvoke).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RuntimeException or PipelineStoppedException or InvalidRunspaceStateException)
            {
                throw new AcmeException($"-AcmeDnsScript failed to {action} the TXT record {name}: {ex.Message}", ex);
            }

            if (shell.Streams.Error.Count > 0)
            {
                throw new AcmeException($"-AcmeDnsScript wrote an error while it was to {action} the TXT record {name}: {shell.Streams.Error[0]}");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _runspace?.Dispose();
        _gate.Dispose();
    }
}
