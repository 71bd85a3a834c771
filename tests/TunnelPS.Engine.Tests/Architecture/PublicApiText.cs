using System.Reflection;
using System.Runtime.CompilerServices;

namespace TunnelPS.Engine.Tests.Architecture;

/// <summary>
/// The public surface of an assembly as sorted lines of text: each exported type (its kind, base type and interfaces)
/// and each of its public and protected members (constructors, methods, properties with their accessors, events,
/// fields, enum values), with the types they name written out in full.
/// </summary>
internal static class PublicApiText
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    public static List<string> Of(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            var name = Name(type);
            lines.Add(name + " " + Kind(type) + Bases(type));
            foreach (var member in type.GetMembers(Declared))
            {
                if (Member(member) is { } shown)
                {
                    lines.Add(name + "." + shown);
                }
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static string Kind(Type type) => type switch
    {
        { IsEnum: true } => "enum",
        { IsInterface: true } => "interface",
        { IsValueType: true } => "struct",
        { IsAbstract: true, IsSealed: true } => "static class",
        { IsAbstract: true } => "abstract class",
        { IsSealed: true } => "sealed class",
        _ => "class",
    };

    private static string Bases(Type type)
    {
        var bases = type.GetInterfaces().Select(Name).Order(StringComparer.Ordinal).ToList();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType) && baseType != typeof(Enum))
        {
            bases.Insert(0, Name(baseType));
        }
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static string? Member(MemberInfo member) => member switch
    {
        FieldInfo field when Visible(field.IsPublic, field.IsFamily, field.IsFamilyOrAssembly) && !field.IsSpecialName =>
            field.DeclaringType!.IsEnum ? field.Name + " = " + field.GetRawConstantValue() : Static(field.IsStatic) + (field.IsLiteral ? "const " : field.IsInitOnly ? "readonly " : "") + Name(field.FieldType) + " " + field.Name,
        ConstructorInfo constructor when Visible(constructor.IsPublic, constructor.IsFamily, constructor.IsFamilyOrAssembly) =>
            Static(constructor.IsStatic) + ".ctor(" + Parameters(constructor) + ")",
        MethodInfo method when Visible(method.IsPublic, method.IsFamily, method.IsFamilyOrAssembly) && (!method.IsSpecialName || method.Name.StartsWith("op_", StringComparison.Ordinal)) =>
            Static(method.IsStatic) + Modifier(method) + Name(method.ReturnType) + " " + method.Name + Generic(method) + "(" + Parameters(method) + ")",
        PropertyInfo property when Accessors(property) is { Length: > 0 } accessors =>
            Static((property.GetMethod ?? property.SetMethod)!.IsStatic) + Name(property.PropertyType) + " " + property.Name + Indexer(property) + " {" + accessors + " }",
        EventInfo @event when @event.AddMethod is { } add && Visible(add.IsPublic, add.IsFamily, add.IsFamilyOrAssembly) =>
            Static(add.IsStatic) + "event " + Name(@event.EventHandlerType!) + " " + @event.Name,
        _ => null,
    };

    private static bool Visible(bool isPublic, bool isFamily, bool isFamilyOrAssembly) => isPublic || isFamily || isFamilyOrAssembly;

    private static string Static(bool isStatic) => isStatic ? "static " : "";

    private static string Modifier(MethodInfo method) =>
        method.IsAbstract && !method.DeclaringType!.IsInterface ? "abstract " : method.IsVirtual && !method.IsFinal && !method.DeclaringType!.IsInterface ? (method.GetBaseDefinition() == method ? "virtual " : "override ") : "";

    private static string Generic(MethodInfo method) =>
        method.IsGenericMethodDefinition ? "<" + string.Join(", ", method.GetGenericArguments().Select(Name)) + ">" : "";

    private static string Indexer(PropertyInfo property) =>
        property.GetIndexParameters() is { Length: > 0 } index ? "[" + string.Join(", ", index.Select(p => Name(p.ParameterType))) + "]" : "";

    private static string Accessors(PropertyInfo property)
    {
        var text = "";
        if (property.GetMethod is { } get && Visible(get.IsPublic, get.IsFamily, get.IsFamilyOrAssembly))
        {
            text += " get;";
        }
        if (property.SetMethod is { } set && Visible(set.IsPublic, set.IsFamily, set.IsFamilyOrAssembly))
        {
            text += set.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit)) ? " init;" : " set;";
        }
        return text;
    }

    private static string Parameters(MethodBase method) => string.Join(", ", method.GetParameters().Select(p =>
        (p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "") + Name(p.ParameterType) + " " + p.Name + (p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")));

    /// <summary>A type written out: namespace, outer types, generic arguments, arrays, by-ref element types.</summary>
    public static string Name(Type type)
    {
        if (type.IsByRef || type.IsPointer)
        {
            return Name(type.GetElementType()!) + (type.IsPointer ? "*" : "");
        }
        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }
        if (type.IsGenericParameter)
        {
            return type.Name;
        }
        var name = type.IsNested ? Name(type.DeclaringType!) + "+" + type.Name : type.Namespace + "." + type.Name;
        var tick = name.LastIndexOf('`');
        if (tick > 0)
        {
            name = name[..tick];
        }
        return type.IsGenericType ? name + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">" : name;
    }
}
