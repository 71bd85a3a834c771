namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// The folders of the engine and of the module are layers (docs/architecture.md): a folder uses only folders below it,
/// never one beside it or above it. Checked from the compiled assemblies' metadata (<see cref="TypeReferenceCollector"/>),
/// so a reference counts however the source spells it: a using, a global using, a qualified name, typeof, an
/// attribute, a generic argument, a lambda or an async method's state machine.
/// </summary>
public sealed class LayeringTests
{
    /// <summary>
    /// The engine's layers, lowest first; folders on one line are on one level and may not use each other. A folder is
    /// a namespace under TunnelPS.Engine ("" is the root, TunnelPS.Engine itself). Diagnostics (log messages,
    /// metrics, log throttling) has a level of its own under Protocol, Http and Transport, since the transport logs and
    /// counts. This table and docs/architecture.md change together.
    /// </summary>
    internal static readonly LayerTable Engine = new("engine", "TunnelPS.Engine", "root", [
        [""],
        ["Diagnostics"],
        ["Protocol", "Http", "Transport"],
        ["Inspection", "Configuration"],
        ["Cluster", "Acme"],
        ["Client", "Server"],
        ["Display", "Inspector"],
    ]);

    /// <summary>
    /// The module's layers, lowest first, as for <see cref="Engine"/>; the user-facing types of Models/ live in the
    /// namespace TunnelPS itself, so "" is Models here.
    /// </summary>
    internal static readonly LayerTable Module = new("module", "TunnelPS", "Models", [
        ["Errors", "Hosting"],
        ["", "Configuration"],
        ["Session"],
        ["Completers", "Display"],
        ["Commands"],
    ]);

    [Fact]
    public void The_engine_s_folders_use_only_folders_below_them() => AssertLayered(Engine, BuiltAssembly.Engine());

    [Fact]
    public void The_module_s_folders_use_only_folders_below_them() => AssertLayered(Module, BuiltAssembly.Module());

    [Fact]
    public void A_reference_up_or_sideways_is_reported_with_its_type_member_and_target()
    {
        var table = new LayerTable("sample", "Sample", "root", [[""], ["Low"], ["High", "Side"]]);
        TypeReferenceFound[] references =
        [
            new("Sample.Low.Reader", "Sample.Low", "method Read", "Sample.High.Server", "Sample.High"),
            new("Sample.High.Server+<RunAsync>d__1", "Sample.High", "method MoveNext", "Sample.Side.Tool", "Sample.Side"),
            new("Sample.High.Server", "Sample.High", "field _reader", "Sample.Low.Reader", "Sample.Low"),
            new("Sample.Low.Reader", "Sample.Low", "base type", "Sample.Root", "Sample"),
        ];

        var violations = table.Violations(references);

        Assert.Equal(
        [
            "High -> Side (same level): Sample.High.Server+<RunAsync>d__1, method MoveNext, uses Sample.Side.Tool",
            "Low -> High (up): Sample.Low.Reader, method Read, uses Sample.High.Server",
        ], violations);
    }

    [Fact]
    public void A_namespace_missing_from_the_table_is_reported()
    {
        var table = new LayerTable("sample", "Sample", "root", [[""], ["Low"]]);

        var violations = table.Violations([new("Sample.New.Thing", "Sample.New", "method Run", "Sample.Low.Reader", "Sample.Low")]);

        Assert.Equal(["New: folder not in the layer table (Sample.New.Thing); add it to the table and to docs/architecture.md"], violations);
    }

    private static void AssertLayered(LayerTable table, string assemblyPath)
    {
        var violations = table.Violations(TypeReferenceCollector.Read(assemblyPath));
        Assert.True(violations.Count == 0,
            $"{violations.Count} reference(s) in {Path.GetFileName(assemblyPath)} break the layer order {table} (docs/architecture.md):{Environment.NewLine}{string.Join(Environment.NewLine, violations)}");
    }
}
