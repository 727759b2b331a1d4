namespace LlmServer.Dto;

/// <summary>Marker for assembly scanning (validators).</summary>
public sealed class DtoAssemblyMarker;
