namespace LlmServer.Tests.Unit.Architecture;

/// <summary>
/// Dependencies point one way (Api → Services → Dto; External implements what Services owns), read from the
/// built assemblies, so a shortcut across layers fails here instead of in review.
/// </summary>
[TestFixture]
public sealed class LayeringTests
{
    private const string Api = "LlmServer.Api";
    private const string Services = "LlmServer.Services";
    private const string External = "LlmServer.External";

    /// <summary>
    /// Types of the dialect pipelines that still use another dialect's helpers directly while they are rebuilt on
    /// the exchange core in Services. This list only shrinks: a type here that no longer
    /// breaks a rule fails <see cref="PendingPipelineTypes_AllStillBreakARule"/>.
    /// </summary>
    private static readonly HashSet<string> PendingPipelineTypes = [];

    /// <summary>
    /// The dialect an Api namespace adapts (LlmServer.Api.Dialects.&lt;Name&gt;), or null for shared code.
    /// </summary>
    private static string? DialectOf(string fullName)
    {
        const string dialects = "LlmServer.Api.Dialects.";
        if (!fullName.StartsWith(dialects, StringComparison.Ordinal)) return null;
        var rest = fullName[dialects.Length..];
        var dot = rest.IndexOf('.');
        return dot < 0 ? null : rest[..dot];
    }

    private static readonly Lazy<TypeDependencies> s_api = new(() => TypeDependencies.Of(typeof(Program)));
    private static readonly Lazy<TypeDependencies> s_services = new(() => TypeDependencies.Of(typeof(Services.DependencyInjection)));
    private static readonly Lazy<TypeDependencies> s_dto = new(() => TypeDependencies.Of(typeof(Dto.DtoAssemblyMarker)));

    [Test]
    public void CompositionRoot_IsSeenNamingExternal()
    {
        // NOTE: the reader must see what Program.cs plainly calls, or every rule below would pass on nothing.
        var program = s_api.Value.Uses.Single(u => u.Key.FullName == "Program").Value;

        Assert.That(program, Does.Contain(new TypeId(External, External, "DependencyInjection")));
        Assert.That(program, Does.Contain(new TypeId(Services, Services, "DependencyInjection")));
    }

    [Test]
    public void Services_ReferencesNoAspNetCoreAssembly()
    {
        var aspNet = s_services.Value.AssemblyReferences.Where(r => r.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)).ToList();

        Assert.That(aspNet, Is.Empty, "business logic must not depend on the web host");
    }

    [Test]
    public void Services_UsesNoHttpTypes()
    {
        var offenders = Offenders(s_services.Value, used => used.Namespace.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));

        Assert.That(offenders, Is.Empty, "Services types naming ASP.NET Core types (HttpContext, IResult, ...)");
    }

    [Test]
    public void Dto_ReferencesNeitherServicesNorExternal()
    {
        var references = s_dto.Value.AssemblyReferences.Where(r => r is Services or External).ToList();
        var offenders = Offenders(s_dto.Value, used => used.Assembly is Services or External);

        Assert.That(references, Is.Empty);
        Assert.That(offenders, Is.Empty);
    }

    [Test]
    public void Api_UsesExternalOnlyInItsCompositionRoot()
    {
        var offenders = ExternalUsers().Except(PendingPipelineTypes).ToList();

        Assert.That(offenders, Is.Empty,
            "only DependencyInjection, Program and *Registration / *ServiceCollectionExtensions types of Api may name LlmServer.External types; "
            + "put an interface in Services or move the registration into the composition root");
    }

    [Test]
    public void DialectPipelines_DoNotReferenceEachOther()
    {
        var offenders = CrossPipelineUsers().Except(PendingPipelineTypes).ToList();

        Assert.That(offenders, Is.Empty, "the OpenAI-wire and Anthropic-wire adapters must share code through Services, not through each other");
    }

    [Test]
    public void PendingPipelineTypes_AllStillBreakARule()
    {
        var breaking = ExternalUsers().Concat(CrossPipelineUsers()).ToHashSet();

        Assert.That(PendingPipelineTypes.Where(t => !breaking.Contains(t)), Is.Empty, "no longer break a rule: remove them from PendingPipelineTypes");
    }

    [Test]
    public void PendingPipelineTypes_AreAllInThePipelineNamespaces()
    {
        Assert.That(PendingPipelineTypes.Where(t => DialectOf(t) is null), Is.Empty,
            "only the pipelines being rebuilt may wait; fix any other violation");
    }

    private static IEnumerable<string> ExternalUsers() =>
        Offenders(s_api.Value, used => used.Assembly == External).Where(t => !IsCompositionRoot(t));

    private static IEnumerable<string> CrossPipelineUsers() =>
        s_api.Value.Uses
            .Where(u => DialectOf(u.Key.FullName) is { } own
                && u.Value.Any(t => t.Assembly is null && DialectOf(t.FullName) is { } other && other != own))
            .Select(u => u.Key.FullName)
            .Order(StringComparer.Ordinal);

    private static IEnumerable<string> Offenders(TypeDependencies assembly, Func<TypeId, bool> forbidden) =>
        assembly.Uses.Where(u => u.Value.Any(forbidden)).Select(u => u.Key.FullName).Order(StringComparer.Ordinal);

    private static bool IsCompositionRoot(string fullName)
    {
        var name = fullName[(fullName.LastIndexOf('.') + 1)..];
        return name is "DependencyInjection" or "Program" || name.EndsWith("Registration", StringComparison.Ordinal)
            || name.EndsWith("ServiceCollectionExtensions", StringComparison.Ordinal);
    }

    private static bool InNamespace(string fullName, string ns) => fullName.StartsWith(ns + ".", StringComparison.Ordinal);
}
