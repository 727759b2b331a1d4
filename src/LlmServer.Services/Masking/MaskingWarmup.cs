using LlmServer.Services.Masking.Detection;
using Microsoft.Extensions.Hosting;

namespace LlmServer.Services.Masking;

/// <summary>
/// Runs every detector once in the background right after start, so the first masked request does not pay for
/// compiling the detectors' code and building their regex state (about 0.25 s on a small machine).
/// It never delays readiness: the work starts after the host has started.
/// </summary>
internal sealed class MaskingWarmup(SensitiveDataScanner scanner) : BackgroundService
{
    // NOTE: one sample per family (AWS ids and keys, secrets, Korean PII, e-mail, card) so each detector's match path runs too.
    private const string Sample =
        "i-0123456789abcdef0 vpc-0a1b2c3d4e5f67890 sg-0123456789abcdef0 arn:aws:iam::123456789012:role/x AKIAIOSFODNN7EXAMPLE "
        + "password=hunter2hunter2 sk-proj-abcdefghijklmnopqrstuvwx 주민번호 900101-1234567 연락처 010-1234-5678 "
        + "ops@corp.kr 카드 4111 1111 1111 1111 Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Run(() =>
        {
            for (var i = 0; i < 3 && !stoppingToken.IsCancellationRequested; i++)
            {
                scanner.Scan(Sample);
                scanner.Scan("plain words without anything to find, 평범한 문장입니다.");
            }
        }, stoppingToken);
}
