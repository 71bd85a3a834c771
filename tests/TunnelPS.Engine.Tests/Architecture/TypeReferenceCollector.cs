using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// Every reference a compiled assembly's types make to other types defined in the same assembly, read from its
/// metadata (no source text): base types, interfaces, generic constraints, field, property, event and method
/// signatures, local variable signatures, every type, method, field and signature token in method bodies (typeof,
/// new, calls, casts, generic instantiations), and custom attributes with their typeof arguments. A reference made by
/// a compiler-generated nested type (a lambda's closure, an async state machine) counts for its outermost type.
/// </summary>
internal sealed class TypeReferenceCollector
{
    private static readonly Dictionary<short, OperandType> s_operands = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    private readonly MetadataReader _reader;
    private readonly PEReader _pe;
    private readonly TypeSignatures _signatures;
    private readonly List<TypeReferenceFound> _found = [];

    private TypeReferenceCollector(PEReader pe)
    {
        _pe = pe;
        _reader = pe.GetMetadataReader();
        _signatures = new TypeSignatures(_reader);
    }

    /// <summary>The references of every type of the assembly at <paramref name="path"/> to its own types.</summary>
    public static List<TypeReferenceFound> Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var collector = new TypeReferenceCollector(pe);
        foreach (var type in collector._reader.TypeDefinitions)
        {
            collector.Visit(type);
        }
        return collector._found;
    }

    /// <summary>"Namespace.Outer+Nested" of a type of this assembly.</summary>
    public static string FullName(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        var name = reader.GetString(type.Name);
        if (type.GetDeclaringType() is { IsNil: false } outer)
        {
            return FullName(reader, outer) + "+" + name;
        }
        var ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    private void Visit(TypeDefinitionHandle handle)
    {
        var type = _reader.GetTypeDefinition(handle);
        var from = new Source(this, handle);
        from.Add("base type", _signatures.Of(type.BaseType));
        foreach (var implementation in type.GetInterfaceImplementations())
        {
            from.Add("interface", _signatures.Of(_reader.GetInterfaceImplementation(implementation).Interface));
        }
        from.Attributes("attribute", type.GetCustomAttributes());
        from.Constraints("generic constraint", type.GetGenericParameters());
        foreach (var fieldHandle in type.GetFields())
        {
            var field = _reader.GetFieldDefinition(fieldHandle);
            var member = "field " + _reader.GetString(field.Name);
            from.Add(member, field.DecodeSignature(_signatures, null));
            from.Attributes(member, field.GetCustomAttributes());
        }
        foreach (var propertyHandle in type.GetProperties())
        {
            var property = _reader.GetPropertyDefinition(propertyHandle);
            var member = "property " + _reader.GetString(property.Name);
            from.Add(member, TypeSignatures.Flatten(property.DecodeSignature(_signatures, null)));
            from.Attributes(member, property.GetCustomAttributes());
        }
        foreach (var eventHandle in type.GetEvents())
        {
            var @event = _reader.GetEventDefinition(eventHandle);
            var member = "event " + _reader.GetString(@event.Name);
            from.Add(member, _signatures.Of(@event.Type));
            from.Attributes(member, @event.GetCustomAttributes());
        }
        foreach (var methodHandle in type.GetMethods())
        {
            VisitMethod(from, methodHandle);
        }
    }

    private void VisitMethod(Source from, MethodDefinitionHandle handle)
    {
        var method = _reader.GetMethodDefinition(handle);
        var member = "method " + _reader.GetString(method.Name);
        from.Add(member, TypeSignatures.Flatten(method.DecodeSignature(_signatures, null)));
        from.Attributes(member, method.GetCustomAttributes());
        from.Constraints(member, method.GetGenericParameters());
        foreach (var parameter in method.GetParameters())
        {
            from.Attributes(member, _reader.GetParameter(parameter).GetCustomAttributes());
        }
        if (method.RelativeVirtualAddress == 0)
        {
            return;
        }
        var body = _pe.GetMethodBody(method.RelativeVirtualAddress);
        if (!body.LocalSignature.IsNil)
        {
            var locals = _reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(_signatures, null);
            from.Add(member + " (locals)", [.. locals.SelectMany(t => t)]);
        }
        foreach (var region in body.ExceptionRegions)
        {
            from.Add(member + " (catch)", _signatures.Of(region.CatchType));
        }
        var il = body.GetILReader();
        while (il.RemainingBytes > 0)
        {
            if (NextToken(ref il) is { } token)
            {
                from.Add(member, _signatures.Of(MetadataTokens.EntityHandle(token)));
            }
        }
    }

    /// <summary>Reads one instruction; returns its metadata token operand, if it has one.</summary>
    private static int? NextToken(ref BlobReader il)
    {
        short code = il.ReadByte();
        if (code == 0xFE)
        {
            code = unchecked((short)(0xFE00 | il.ReadByte()));
        }
        switch (s_operands[code])
        {
            case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType or OperandType.InlineSig:
                return il.ReadInt32();
            case OperandType.InlineNone:
                return null;
            case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                il.Offset += 1;
                return null;
            case OperandType.InlineVar:
                il.Offset += 2;
                return null;
            case OperandType.InlineI8 or OperandType.InlineR:
                il.Offset += 8;
                return null;
            case OperandType.InlineSwitch:
                var targets = il.ReadInt32();
                il.Offset += 4 * targets;
                return null;
            default:
                il.Offset += 4;
                return null;
        }
    }

    /// <summary>The type a reference is made from: compiler-generated nested types answer for their outermost type.</summary>
    private sealed class Source(TypeReferenceCollector collector, TypeDefinitionHandle handle)
    {
        public void Add(string member, ImmutableArray<TypeDefinitionHandle> targets)
        {
            foreach (var target in targets.Where(t => !t.IsNil))
            {
                collector._found.Add(new TypeReferenceFound(
                    FullName(collector._reader, handle), Outermost(collector._reader, handle), member,
                    FullName(collector._reader, target), Outermost(collector._reader, target)));
            }
        }

        public void Attributes(string member, CustomAttributeHandleCollection attributes)
        {
            foreach (var attributeHandle in attributes)
            {
                var attribute = collector._reader.GetCustomAttribute(attributeHandle);
                Add(member + " (attribute)", collector._signatures.Of(attribute.Constructor));
                Add(member + " (attribute argument)", collector._signatures.ArgumentsOf(attribute));
            }
        }

        public void Constraints(string member, GenericParameterHandleCollection parameters)
        {
            foreach (var parameter in parameters)
            {
                foreach (var constraint in collector._reader.GetGenericParameter(parameter).GetConstraints())
                {
                    Add(member + " (constraint)", collector._signatures.Of(collector._reader.GetGenericParameterConstraint(constraint).Type));
                }
            }
        }
    }

    /// <summary>The namespace of the outermost type that holds <paramref name="handle"/>.</summary>
    private static string Outermost(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.GetDeclaringType() is { IsNil: false } outer)
        {
            type = reader.GetTypeDefinition(outer);
        }
        return reader.GetString(type.Namespace);
    }
}

/// <summary>One reference: <paramref name="Type"/> (in namespace <paramref name="Namespace"/>) uses <paramref name="Target"/> in <paramref name="Member"/>.</summary>
internal sealed record TypeReferenceFound(string Type, string Namespace, string Member, string Target, string TargetNamespace);
