using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TunnelPS.Completers;

/// <summary>
/// What the completers share: a completer never throws at the user (a failure offers nothing), and a derived
/// completer's <see cref="Complete"/> is compiled only when completion runs, inside the guard, so that a missing
/// engine type or a broken file is a quiet "no suggestions", never an error under the prompt.
/// </summary>
public abstract class SafeArgumentCompleter : IArgumentCompleter
{
    /// <summary>The completions of <see cref="Complete"/>, or none when it throws.</summary>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        try
        {
            return Complete(wordToComplete, fakeBoundParameters);
        }
#pragma warning disable CA1031 // A completer must never throw at the user.
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }

    /// <summary>The completions for <paramref name="wordToComplete"/>, given the parameters already typed on the line.</summary>
    private protected abstract IEnumerable<CompletionResult> Complete(string wordToComplete, IDictionary fakeBoundParameters);
}
