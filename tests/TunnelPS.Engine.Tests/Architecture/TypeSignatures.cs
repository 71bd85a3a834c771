using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// Decodes signatures, tokens and custom attribute blobs of one assembly into the types of that same assembly they
/// name (a generic instantiation names its definition and every argument; a member names its declaring type and the
/// types of its signature). Types of other assemblies are not collected: the layering is within an assembly.
/// </summary>
internal sealed class TypeSignatures(MetadataReader reader) :
    ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>,
    ICustomAttributeTypeProvider<ImmutableArray<TypeDefinitionHandle>>
{
    private static readonly ImmutableArray<TypeDefinitionHandle> s_none = [];

    /// <summary>System.Type, which attribute blobs encode apart: one nil handle (collectors skip nil handles).</summary>
    private static readonly ImmutableArray<TypeDefinitionHandle> s_systemType = [default];
    private Dictionary<string, TypeDefinitionHandle>? _byName;

    /// <summary>The types of this assembly that a token or a handle of any kind names.</summary>
    public ImmutableArray<TypeDefinitionHandle> Of(EntityHandle handle)
    {
        if (handle.IsNil)
        {
            return s_none;
        }
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition:
                return [(TypeDefinitionHandle)handle];
            case HandleKind.TypeSpecification:
                return reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
            case HandleKind.MethodDefinition:
                return [reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()];
            case HandleKind.FieldDefinition:
                return [reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()];
            case HandleKind.MemberReference:
                return OfMember(reader.GetMemberReference((MemberReferenceHandle)handle));
            case HandleKind.MethodSpecification:
                var specification = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                return [.. Of(specification.Method), .. specification.DecodeSignature(this, null).SelectMany(t => t)];
            case HandleKind.StandaloneSignature:
                var signature = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                return signature.GetKind() == StandaloneSignatureKind.Method ? Flatten(signature.DecodeMethodSignature(this, null)) : s_none;
            default:
                return s_none;
        }
    }

    /// <summary>The types of this assembly named by typeof arguments of an attribute (arguments, named arguments, arrays).</summary>
    public ImmutableArray<TypeDefinitionHandle> ArgumentsOf(CustomAttribute attribute)
    {
        CustomAttributeValue<ImmutableArray<TypeDefinitionHandle>> value;
        try
        {
            value = attribute.DecodeValue(this);
        }
        catch (BadImageFormatException ex)
        {
            throw new InvalidOperationException("The arguments of an attribute " + AttributeName(attribute) + " could not be decoded: " + ex.Message, ex);
        }
        var found = ImmutableArray.CreateBuilder<TypeDefinitionHandle>();
        foreach (var argument in value.FixedArguments)
        {
            Collect(argument.Type, argument.Value, found);
        }
        foreach (var argument in value.NamedArguments)
        {
            Collect(argument.Type, argument.Value, found);
        }
        return found.ToImmutable();
    }

    private string AttributeName(CustomAttribute attribute)
    {
        var parent = attribute.Constructor.Kind == HandleKind.MemberReference
            ? reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent
            : reader.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType();
        return parent.Kind switch
        {
            HandleKind.TypeReference => reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Namespace) + "." + reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name),
            HandleKind.TypeDefinition => TypeReferenceCollector.FullName(reader, (TypeDefinitionHandle)parent),
            _ => parent.Kind.ToString(),
        };
    }

    private static void Collect(ImmutableArray<TypeDefinitionHandle> type, object? value, ImmutableArray<TypeDefinitionHandle>.Builder found)
    {
        found.AddRange(type);
        switch (value)
        {
            case ImmutableArray<TypeDefinitionHandle> named:
                found.AddRange(named);
                break;
            case ImmutableArray<CustomAttributeTypedArgument<ImmutableArray<TypeDefinitionHandle>>> items:
                foreach (var item in items)
                {
                    Collect(item.Type, item.Value, found);
                }
                break;
        }
    }

    private ImmutableArray<TypeDefinitionHandle> OfMember(MemberReference member)
    {
        var parent = member.Parent.Kind == HandleKind.TypeReference ? s_none : Of(member.Parent);
        var signature = member.GetKind() == MemberReferenceKind.Method
            ? Flatten(member.DecodeMethodSignature(this, null))
            : member.DecodeFieldSignature(this, null);
        return [.. parent, .. signature];
    }

    public static ImmutableArray<TypeDefinitionHandle> Flatten(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
        [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];

    public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader metadata, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];

    public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader metadata, TypeReferenceHandle handle, byte rawTypeKind)
    {
        var type = metadata.GetTypeReference(handle);
        return metadata.StringComparer.Equals(type.Namespace, "System") && metadata.StringComparer.Equals(type.Name, "Type") ? s_systemType : s_none;
    }

    public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader metadata, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
        metadata.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

    public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
        [.. genericType, .. typeArguments.SelectMany(t => t)];

    public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) => Flatten(signature);

    public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;

    public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

    public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

    public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

    public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

    public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) =>
        [.. modifier, .. unmodifiedType];

    public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? genericContext, int index) => s_none;

    public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? genericContext, int index) => s_none;

    public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => s_none;

    public ImmutableArray<TypeDefinitionHandle> GetSystemType() => s_systemType;

    public bool IsSystemType(ImmutableArray<TypeDefinitionHandle> type) => type.Length == 1 && type[0].IsNil;

    /// <summary>A typeof argument is stored as a serialized name: found among this assembly's types, or none.</summary>
    public ImmutableArray<TypeDefinitionHandle> GetTypeFromSerializedName(string name)
    {
        var bare = name.Split(',')[0].Trim();
        return ByName().TryGetValue(bare, out var handle) ? [handle] : s_none;
    }

    /// <summary>
    /// An enum's underlying type: read from its value__ field when it is this assembly's; Int32 for another
    /// assembly's (the reader cannot see it; every framework enum an attribute of ours takes is Int32).
    /// </summary>
    public PrimitiveTypeCode GetUnderlyingEnumType(ImmutableArray<TypeDefinitionHandle> type)
    {
        if (type.IsDefaultOrEmpty || type[0].IsNil)
        {
            return PrimitiveTypeCode.Int32;
        }
        foreach (var fieldHandle in reader.GetTypeDefinition(type[0]).GetFields())
        {
            var field = reader.GetFieldDefinition(fieldHandle);
            if (reader.StringComparer.Equals(field.Name, "value__"))
            {
                var blob = reader.GetBlobReader(field.Signature);
                blob.ReadSignatureHeader();
                return (PrimitiveTypeCode)blob.ReadCompressedInteger();
            }
        }
        return PrimitiveTypeCode.Int32;
    }

    private Dictionary<string, TypeDefinitionHandle> ByName()
    {
        if (_byName is null)
        {
            _byName = new Dictionary<string, TypeDefinitionHandle>(StringComparer.Ordinal);
            foreach (var handle in reader.TypeDefinitions)
            {
                _byName[TypeReferenceCollector.FullName(reader, handle)] = handle;
            }
        }
        return _byName;
    }
}
