using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// Sizes read from the C# syntax of the sources (no compilation): lines per file, lines per method-like body
/// (methods, constructors, operators, accessors, local functions, lambdas and anonymous methods), and empty catch
/// bodies (no statement and no comment).
/// </summary>
internal static class SourceSizes
{
    /// <summary>A file's lines, as wc -l counts them.</summary>
    public static int FileLines(SyntaxTree tree)
    {
        var lines = tree.GetText().Lines;
        return lines.Count > 0 && lines[^1].Span.IsEmpty ? lines.Count - 1 : lines.Count;
    }

    /// <summary>Every method-like body of <paramref name="tree"/> with its name (Namespace.Type.Member, see <see cref="NameOf"/>) and lines.</summary>
    public static IEnumerable<(string Name, int Lines)> Methods(SyntaxTree tree)
    {
        foreach (var node in tree.GetRoot().DescendantNodes())
        {
            if (node is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax or AnonymousFunctionExpressionSyntax)
            {
                var span = node.GetLocation().GetLineSpan();
                yield return (NameOf(node), span.EndLinePosition.Line - span.StartLinePosition.Line + 1);
            }
        }
    }

    /// <summary>The catch clauses whose body has no statement and no comment, by line (1-based).</summary>
    public static IEnumerable<int> EmptyCatches(SyntaxTree tree)
    {
        foreach (var clause in tree.GetRoot().DescendantNodes().OfType<CatchClauseSyntax>())
        {
            var block = clause.Block;
            var commented = block.OpenBraceToken.TrailingTrivia.Concat(block.CloseBraceToken.LeadingTrivia)
                .Any(t => t.IsKind(SyntaxKind.SingleLineCommentTrivia) || t.IsKind(SyntaxKind.MultiLineCommentTrivia));
            if (block.Statements.Count == 0 && !commented)
            {
                yield return clause.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
            }
        }
    }

    /// <summary>
    /// Namespace.Type.Member: a constructor is .ctor, an operator op_+, an accessor Property.get, a local function
    /// Member.Local, a lambda or anonymous method Member.lambda.
    /// </summary>
    public static string NameOf(SyntaxNode node)
    {
        var parts = new List<string>();
        for (var at = node; at is not null; at = at.Parent)
        {
            if (Part(at) is { } part)
            {
                parts.Add(part);
            }
        }
        parts.Reverse();
        return string.Join(".", parts);
    }

    private static string? Part(SyntaxNode node) => node switch
    {
        BaseNamespaceDeclarationSyntax ns => ns.Name.ToString(),
        BaseTypeDeclarationSyntax type => type.Identifier.Text,
        DelegateDeclarationSyntax @delegate => @delegate.Identifier.Text,
        MethodDeclarationSyntax method => method.Identifier.Text,
        ConstructorDeclarationSyntax constructor => constructor.Modifiers.Any(SyntaxKind.StaticKeyword) ? ".cctor" : ".ctor",
        DestructorDeclarationSyntax => "Finalize",
        OperatorDeclarationSyntax @operator => "op_" + @operator.OperatorToken.Text,
        ConversionOperatorDeclarationSyntax conversion => "op_" + conversion.ImplicitOrExplicitKeyword.Text + "_" + conversion.Type,
        PropertyDeclarationSyntax property => property.Identifier.Text,
        IndexerDeclarationSyntax => "this[]",
        EventDeclarationSyntax @event => @event.Identifier.Text,
        AccessorDeclarationSyntax accessor => accessor.Keyword.Text,
        LocalFunctionStatementSyntax local => local.Identifier.Text,
        AnonymousFunctionExpressionSyntax => "lambda",
        _ => null,
    };
}
