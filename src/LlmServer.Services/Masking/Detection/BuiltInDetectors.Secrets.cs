using System.Net;
using System.Text.Json;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>Validation of secrets and cloud identifiers: provider keys, JWTs, AWS keys, ARNs, buckets and resource ids.</summary>
internal static partial class BuiltInDetectors
{
    private static string? ClassifyOpenAi(string text, int start, ref int length)
    {
        if (text.AsSpan(start, length).StartsWith("sk-ant-"))
        {
            return null;
        }
        return RequireMixed(T.OpenAiKey, 3)(text, start, ref length);
    }

    private static string? ClassifyJwt(string text, int start, ref int length)
    {
        var header = text.AsSpan(start, text.AsSpan(start, length).IndexOf('.'));
        if (header.Length > 4096)
        {
            return null;
        }
        Span<char> b64 = stackalloc char[header.Length + 3];
        header.CopyTo(b64);
        var n = header.Length;
        for (var i = 0; i < n; i++)
        {
            b64[i] = b64[i] switch { '-' => '+', '_' => '/', var c => c };
        }
        while (n % 4 != 0)
        {
            b64[n++] = '=';
        }
        Span<byte> bytes = stackalloc byte[n];
        if (!Convert.TryFromBase64Chars(b64[..n], bytes, out var written))
        {
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(bytes[..written]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            reader.Skip();
            return reader.Read() ? null : T.Jwt;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static double Entropy(ReadOnlySpan<char> s)
    {
        Span<int> counts = stackalloc int[128];
        foreach (var c in s)
        {
            counts[c & 127]++;
        }
        double h = 0;
        foreach (var k in counts)
        {
            if (k > 0)
            {
                var p = (double)k / s.Length;
                h -= p * Math.Log2(p);
            }
        }
        return h;
    }

    private static string? ClassifyAwsSecret(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        if (s.IndexOfAnyInRange('0', '9') < 0 || s.IndexOfAnyInRange('a', 'z') < 0 || s.IndexOfAnyInRange('A', 'Z') < 0
            || Entropy(s) < 4.0)
        {
            return null;
        }
        if (SecretKeywords.Near(text, start, start + length, 80, 0)
            || AccessKeyIds.Near(text, start, start + length, 200, 200))
        {
            return T.AwsSecretKey;
        }
        return null;
    }

    private static string? ClassifyArn(string text, int start, ref int length)
    {
        while (length > 0 && text[start + length - 1] is '.' or ',' or ':')
        {
            length--;
        }
        var span = text.AsSpan(start, length);
        var afterPartition = span[(span[4..].IndexOf(':') + 5)..];
        if (afterPartition.StartsWith("s3:"))
        {
            return null;
        }
        return T.AwsArn;
    }

    private static string? ClassifyBucket(string text, int start, ref int length)
    {
        var b = text.AsSpan(start, length);
        if (b.Length < 3 || b.Contains("..", StringComparison.Ordinal) || IPAddress.TryParse(b, out _))
        {
            return null;
        }
        return T.AwsS3Bucket;
    }

    private static string? ClassifyResource(string text, int start, ref int length) =>
        text.AsSpan(start, text.AsSpan(start, length).IndexOf('-')) switch
        {
            "i" => T.AwsEc2,
            "vpc" => T.AwsVpc,
            "subnet" => T.AwsSubnet,
            "sg" => T.AwsSecurityGroup,
            "eni" => T.AwsEni,
            "ami" => T.AwsAmi,
            "vol" => T.AwsVolume,
            "snap" => T.AwsSnapshot,
            "igw" => T.AwsIgw,
            "nat" => T.AwsNat,
            "rtb" => T.AwsRouteTable,
            "vpce" => T.AwsVpcEndpoint,
            "tgw" => T.AwsTransitGateway,
            "eipalloc" => T.AwsEip,
            _ => null,
        };
}
