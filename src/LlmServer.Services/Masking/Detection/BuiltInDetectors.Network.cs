using System.Net;
using System.Net.Sockets;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>Validation of IP addresses.</summary>
internal static partial class BuiltInDetectors
{
    // NOTE: loopback (127/8) and the unspecified address (0.0.0.0) identify nothing and fill code samples, so
    // they stay readable; every other valid address, private ranges included, is masked.
    private static string? ClassifyIPv4(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        foreach (var range in s.Split('.'))
        {
            var part = s[range];
            if (part.Length > 1 && part[0] == '0' || int.Parse(part) > 255)
            {
                return null;
            }
        }
        if (s.StartsWith("127.") || s.SequenceEqual("0.0.0.0"))
        {
            return null;
        }
        return T.IPv4;
    }

    private static string? ClassifyIPv6(string text, int start, ref int length)
    {
        while (length > 0 && text[start + length - 1] == ':' && !(length >= 2 && text[start + length - 2] == ':'))
        {
            length--;
        }
        var s = text.AsSpan(start, length);
        if (s.IndexOfAnyInRange('0', '9') < 0 || !IPAddress.TryParse(s, out var ip)
            || ip.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.IPv6Any))
        {
            return null;
        }
        var groups = 0;
        foreach (var range in s.Split(':'))
        {
            if (range.End.Value > range.Start.Value)
            {
                groups++;
            }
        }
        return groups >= 2 ? T.IPv6 : null;
    }
}
