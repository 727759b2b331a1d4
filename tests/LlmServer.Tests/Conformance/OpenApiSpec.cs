using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// OpenAI's official OpenAPI document (shared/specs/openai-openapi.yaml, MIT), loaded once, and a small
/// JSON Schema validator for the parts of OpenAPI 3.1 schemas the response bodies use:
/// $ref, type (incl. "null" and type lists), nullable, enum, const, required, properties, items, allOf, anyOf, oneOf.
/// Formats, patterns and numeric bounds are not checked: the goal is shape conformance of our bodies.
/// </summary>
internal static class OpenApiSpec
{
    private static readonly Lazy<JsonObject?> s_schemas = new(Load);

    /// <summary>
    /// Where the spec lives: $LLMSERVER_OPENAPI_SPEC, else shared/specs beside the repository (the newest copy),
    /// else the copy vendored in Conformance/Spec (MIT, with its licence) so a plain clone tests too.
    /// </summary>
    public static string? SpecPath
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("LLMSERVER_OPENAPI_SPEC");
            if (!string.IsNullOrEmpty(env)) return File.Exists(env) ? env : null;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "specs", "openai-openapi.yaml");
                if (File.Exists(candidate)) return candidate;
                candidate = Path.Combine(dir.FullName, "..", "shared", "specs", "openai-openapi.yaml");
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
            }
            var vendored = Path.Combine(AppContext.BaseDirectory, "Conformance", "Spec", "openai-openapi.yaml");
            return File.Exists(vendored) ? vendored : null;
        }
    }

    public static JsonObject Schemas => s_schemas.Value ?? throw new InvalidOperationException("OpenAPI spec not found");

    public static bool Available => s_schemas.Value is not null;

    /// <summary>Violations of components.schemas.<paramref name="schemaName"/> by <paramref name="instance"/> (empty: valid).</summary>
    public static IReadOnlyList<string> Validate(string schemaName, JsonNode? instance)
    {
        var errors = new List<string>();
        var schema = Schemas[schemaName] ?? throw new ArgumentException($"no schema {schemaName} in the spec");
        Check(schema, instance, "$", errors, depth: 0);
        return errors;
    }

    private static JsonObject? Load()
    {
        var path = SpecPath;
        if (path is null) return null;
        // NOTE: the spec has a few "|+" block scalars whose first line is only spaces (an example of "\n"),
        // which YamlDotNet rejects; they are examples, not schema, so they become empty strings.
        var text = System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(path), @": \|\+\n[ \t]+\n", ": \"\"\n");
        var yaml = new YamlStream();
        using (var reader = new StringReader(text))
        {
            yaml.Load(reader);
        }
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var components = (YamlMappingNode)root.Children[new YamlScalarNode("components")];
        var schemas = (YamlMappingNode)components.Children[new YamlScalarNode("schemas")];
        return (JsonObject)ToJson(schemas)!;
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode s => Scalar(s),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value;
        if (s.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) return JsonValue.Create(v);
        if (v is null or "null" or "~") return null;
        if (v == "true") return JsonValue.Create(true);
        if (v == "false") return JsonValue.Create(false);
        if (long.TryParse(v, out var l)) return JsonValue.Create(l);
        if (double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }

    private static void Check(JsonNode schema, JsonNode? value, string path, List<string> errors, int depth)
    {
        if (depth > 64 || schema is not JsonObject s) return;
        if (s["$ref"] is JsonValue refValue)
        {
            var name = ((string)refValue!).Split('/')[^1];
            Check(Schemas[name] ?? throw new InvalidOperationException($"unresolved $ref {name}"), value, path, errors, depth + 1);
        }
        if (s["allOf"] is JsonArray all)
        {
            foreach (var sub in all) Check(sub!, value, path, errors, depth + 1);
        }
        foreach (var key in new[] { "anyOf", "oneOf" })
        {
            if (s[key] is JsonArray options)
            {
                List<string>? closest = null;
                foreach (var option in options)
                {
                    var e = new List<string>();
                    Check(option!, value, path, e, depth + 1);
                    if (e.Count == 0) { closest = null; break; }
                    if (closest is null || e.Count < closest.Count) closest = e;
                }
                if (closest is not null)
                {
                    // NOTE: the closest alternative's complaints say what to fix.
                    errors.Add($"{path}: matches none of {key} ({Describe(value)}); closest: {string.Join("; ", closest.Take(5))}");
                }
            }
        }
        if (value is null)
        {
            var nullable = s["nullable"] is JsonValue n && (bool)n!;
            var types = Types(s);
            if (types.Count > 0 && !types.Contains("null") && !nullable) errors.Add($"{path}: null where {string.Join("|", types)} expected");
            return;
        }
        var declared = Types(s);
        if (declared.Count > 0 && !declared.Any(t => IsType(value, t)))
        {
            errors.Add($"{path}: {Describe(value)} where {string.Join("|", declared)} expected");
            return;
        }
        if (s["enum"] is JsonArray allowed && value is JsonValue)
        {
            var text = value.ToJsonString();
            if (!allowed.Any(a => a is not null && a.ToJsonString() == text)) errors.Add($"{path}: {text} not in enum [{string.Join(", ", allowed.Select(a => a?.ToJsonString()))}]");
        }
        if (s["const"] is JsonNode constant && value.ToJsonString() != constant.ToJsonString())
        {
            errors.Add($"{path}: {value.ToJsonString()} is not the constant {constant.ToJsonString()}");
        }
        if (value is JsonObject obj)
        {
            if (s["required"] is JsonArray required)
            {
                foreach (var r in required)
                {
                    var name = (string)r!;
                    if (!obj.ContainsKey(name)) errors.Add($"{path}: required property '{name}' missing");
                }
            }
            if (s["properties"] is JsonObject props)
            {
                foreach (var (name, sub) in props)
                {
                    if (obj.TryGetPropertyValue(name, out var child)) Check(sub!, child, $"{path}.{name}", errors, depth + 1);
                }
            }
        }
        if (value is JsonArray arr && s["items"] is JsonNode items)
        {
            for (var i = 0; i < arr.Count; i++) Check(items, arr[i], $"{path}[{i}]", errors, depth + 1);
        }
    }

    private static List<string> Types(JsonObject s) => s["type"] switch
    {
        JsonValue v => [(string)v!],
        JsonArray a => a.Select(t => (string)t!).ToList(),
        _ => [],
    };

    private static bool IsType(JsonNode value, string type) => type switch
    {
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String,
        "boolean" => value is JsonValue b && b.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False,
        "integer" => value is JsonValue i && i.GetValueKind() == System.Text.Json.JsonValueKind.Number && decimal.TryParse(i.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d),
        "number" => value is JsonValue n && n.GetValueKind() == System.Text.Json.JsonValueKind.Number,
        "null" => false,
        _ => true,
    };

    private static string Describe(JsonNode? value)
    {
        var text = value?.ToJsonString() ?? "null";
        return text.Length > 80 ? text[..80] + "…" : text;
    }
}
