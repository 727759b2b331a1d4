namespace LlmServer.Services.Masking.Detection;

/// <summary>PEM private key blocks, found by hand (a block may span thousands of characters).</summary>
internal sealed class PemPrivateKeyDetector : Detector
{
    public override void Find(ScanContext scan, List<Detection> output)
    {
        var text = scan.Text;
        var pos = 0;
        while (pos < text.Length)
        {
            var begin = text.IndexOf("-----BEGIN ", pos, StringComparison.Ordinal);
            if (begin < 0)
            {
                return;
            }
            var headerEnd = text.IndexOf("-----", begin + 11, StringComparison.Ordinal);
            if (headerEnd < 0 || headerEnd - begin > 80
                || !text.AsSpan(begin, headerEnd - begin).EndsWith("PRIVATE KEY", StringComparison.Ordinal))
            {
                pos = begin + 11;
                continue;
            }
            var end = text.IndexOf("-----END ", headerEnd + 5, StringComparison.Ordinal);
            int stop;
            if (end < 0)
            {
                // NOTE: a truncated key is still a key: mask to the end of the text.
                stop = text.Length;
            }
            else
            {
                var close = text.IndexOf("-----", end + 9, StringComparison.Ordinal);
                stop = close < 0 ? text.Length : close + 5;
            }
            output.Add(new Detection(begin, stop - begin, MaskingTypes.PrivateKey, 100));
            pos = stop;
        }
    }
}
