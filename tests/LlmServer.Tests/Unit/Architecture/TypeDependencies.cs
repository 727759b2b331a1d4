using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LlmServer.Tests.Unit.Architecture;

/// <summary>A type as another type's code names it: the assembly it lives in (null: the assembly being read) and its outermost type.</summary>
internal sealed record TypeId(string? Assembly, string Namespace, string Name)
{
    public string FullName => Namespace.Length == 0 ? Name : Namespace + "." + Name;

    public override string ToString() => Assembly is null ? FullName : $"{FullName} ({Assembly})";
}

/// <summary>
/// What a built assembly depends on, read from its metadata and IL with System.Reflection.Metadata: its assembly
/// references, and for each top-level type (nested, compiler-generated lambdas and state machines folded into it)
/// every type its base types, fields, signatures, locals and method bodies name.
/// </summary>
internal sealed class TypeDependencies
{
    private static readonly Dictionary<short, OperandType> s_opcodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    private TypeDependencies(string assemblyName, ImmutableArray<string> references, IReadOnlyDictionary<TypeId, HashSet<TypeId>> uses)
    {
        AssemblyName = assemblyName;
        AssemblyReferences = references;
        Uses = uses;
    }

    public string AssemblyName { get; }

    /// <summary>Names of the assemblies this one references.</summary>
    public ImmutableArray<string> AssemblyReferences { get; }

    /// <summary>Top-level type of this assembly → the types it names.</summary>
    public IReadOnlyDictionary<TypeId, HashSet<TypeId>> Uses { get; }

    /// <summary>Reads the built assembly that holds <paramref name="marker"/>.</summary>
    public static TypeDependencies Of(Type marker) => Read(marker.Assembly.Location);

    public static TypeDependencies Read(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var references = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToImmutableArray();
        var uses = new Dictionary<TypeId, HashSet<TypeId>>();
        var reader = new Reader(md, pe);
        foreach (var handle in md.TypeDefinitions)
        {
            var owner = reader.Id(handle);
            if (owner.Name == "<Module>") continue;
            if (!uses.TryGetValue(owner, out var set)) uses[owner] = set = [];
            reader.Collect(handle, set);
            set.Remove(owner);
        }
        return new TypeDependencies(md.GetString(md.GetAssemblyDefinition().Name), references, uses);
    }

    private sealed class Reader(MetadataReader md, PEReader pe) : ISignatureTypeProvider<IEnumerable<TypeId>, object?>
    {
        public TypeId Id(TypeDefinitionHandle handle)
        {
            var t = md.GetTypeDefinition(handle);
            while (t.IsNested) t = md.GetTypeDefinition(t.GetDeclaringType());
            return new TypeId(null, md.GetString(t.Namespace), md.GetString(t.Name));
        }

        private TypeId Id(TypeReferenceHandle handle)
        {
            var t = md.GetTypeReference(handle);
            while (t.ResolutionScope.Kind == HandleKind.TypeReference) t = md.GetTypeReference((TypeReferenceHandle)t.ResolutionScope);
            var assembly = t.ResolutionScope.Kind == HandleKind.AssemblyReference
                ? md.GetString(md.GetAssemblyReference((AssemblyReferenceHandle)t.ResolutionScope).Name)
                : null;
            return new TypeId(assembly, md.GetString(t.Namespace), md.GetString(t.Name));
        }

        public void Collect(TypeDefinitionHandle handle, HashSet<TypeId> into)
        {
            var t = md.GetTypeDefinition(handle);
            Add(t.BaseType, into);
            foreach (var i in t.GetInterfaceImplementations()) Add(md.GetInterfaceImplementation(i).Interface, into);
            foreach (var f in t.GetFields()) into.UnionWith(md.GetFieldDefinition(f).DecodeSignature(this, null));
            foreach (var m in t.GetMethods())
            {
                var method = md.GetMethodDefinition(m);
                var signature = method.DecodeSignature(this, null);
                into.UnionWith(signature.ReturnType);
                foreach (var p in signature.ParameterTypes) into.UnionWith(p);
                if (method.RelativeVirtualAddress == 0) continue;
                var body = pe.GetMethodBody(method.RelativeVirtualAddress);
                if (!body.LocalSignature.IsNil)
                {
                    foreach (var local in md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null)) into.UnionWith(local);
                }
                Scan(body.GetILReader(), into);
            }
        }

        private void Scan(BlobReader il, HashSet<TypeId> into)
        {
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE) code = (short)(0xFE00 | il.ReadByte());
                switch (s_opcodes[code])
                {
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        Add(MetadataTokens.EntityHandle(il.ReadInt32()), into);
                        break;
                    case OperandType.InlineSwitch:
                        var targets = il.ReadInt32();
                        il.Offset += targets * 4;
                        break;
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    default:
                        il.Offset += 4;
                        break;
                }
            }
        }

        private void Add(EntityHandle handle, HashSet<TypeId> into)
        {
            if (handle.IsNil) return;
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    into.Add(Id((TypeDefinitionHandle)handle));
                    break;
                case HandleKind.TypeReference:
                    into.Add(Id((TypeReferenceHandle)handle));
                    break;
                case HandleKind.TypeSpecification:
                    into.UnionWith(md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null));
                    break;
                case HandleKind.MemberReference:
                    var member = md.GetMemberReference((MemberReferenceHandle)handle);
                    Add(member.Parent, into);
                    if (member.GetKind() == MemberReferenceKind.Field)
                    {
                        into.UnionWith(member.DecodeFieldSignature(this, null));
                    }
                    else
                    {
                        var signature = member.DecodeMethodSignature(this, null);
                        into.UnionWith(signature.ReturnType);
                        foreach (var p in signature.ParameterTypes) into.UnionWith(p);
                    }
                    break;
                case HandleKind.MethodDefinition:
                    into.Add(Id(md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.FieldDefinition:
                    into.Add(Id(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.MethodSpecification:
                    var spec = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Add(spec.Method, into);
                    foreach (var arg in spec.DecodeSignature(this, null)) into.UnionWith(arg);
                    break;
            }
        }

        public IEnumerable<TypeId> GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [Id(handle)];
        public IEnumerable<TypeId> GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => [Id(handle)];
        public IEnumerable<TypeId> GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public IEnumerable<TypeId> GetGenericInstantiation(IEnumerable<TypeId> genericType, ImmutableArray<IEnumerable<TypeId>> typeArguments) =>
            typeArguments.Aggregate(genericType, (all, a) => all.Concat(a));
        public IEnumerable<TypeId> GetArrayType(IEnumerable<TypeId> elementType, ArrayShape shape) => elementType;
        public IEnumerable<TypeId> GetSZArrayType(IEnumerable<TypeId> elementType) => elementType;
        public IEnumerable<TypeId> GetByReferenceType(IEnumerable<TypeId> elementType) => elementType;
        public IEnumerable<TypeId> GetPointerType(IEnumerable<TypeId> elementType) => elementType;
        public IEnumerable<TypeId> GetPinnedType(IEnumerable<TypeId> elementType) => elementType;
        public IEnumerable<TypeId> GetModifiedType(IEnumerable<TypeId> modifier, IEnumerable<TypeId> unmodifiedType, bool isRequired) => unmodifiedType;
        public IEnumerable<TypeId> GetFunctionPointerType(MethodSignature<IEnumerable<TypeId>> signature) =>
            signature.ParameterTypes.Aggregate(signature.ReturnType, (all, p) => all.Concat(p));
        public IEnumerable<TypeId> GetGenericMethodParameter(object? context, int index) => [];
        public IEnumerable<TypeId> GetGenericTypeParameter(object? context, int index) => [];
        public IEnumerable<TypeId> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
    }
}
