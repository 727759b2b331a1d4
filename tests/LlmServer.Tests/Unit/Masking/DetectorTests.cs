using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Tests.Unit.Masking;

public sealed class DetectorTests
{
    [TestCase("키는 AKIAIOSFODNN7EXAMPLE를 쓰세요", "AKIAIOSFODNN7EXAMPLE")]
    [TestCase("aws_access_key_id=ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A")]
    [TestCase("role AROAJQABLZS4A3QDU576.", "AROAJQABLZS4A3QDU576")]
    public void AwsAccessKeyIds_AreFound_EvenNextToHangul(string text, string expected)
    {
        Assert.That(Find(text), Does.Contain((T.AwsAccessKey, expected)));
    }

    [TestCase("AKIAIOSFODNN7EXAMPLEX is too long")]
    [TestCase("XAKIAIOSFODNN7EXAMPLE glued prefix")]
    [TestCase("akiaiosfodnn7example lower case")]
    [TestCase("AKIA1234 too short")]
    public void AwsAccessKeyNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type == T.AwsAccessKey), Is.Empty);
    }

    [Test]
    public void AwsSecretKey_IsFoundNextToKeywordOrKeyId_Only()
    {
        const string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        Assert.That(Find($"aws_secret_access_key = {secret}"), Does.Contain((T.AwsSecretKey, secret)));
        Assert.That(Find($"AKIAIOSFODNN7EXAMPLE / {secret}"), Does.Contain((T.AwsSecretKey, secret)));
        Assert.That(Find($"시크릿 키: {secret}입니다"), Does.Contain((T.AwsSecretKey, secret)));
        Assert.That(Find($"aws_secret_access_key={secret}"), Does.Contain((T.AwsSecretKey, secret)));
        Assert.That(Find($"secret: {secret}A").Where(f => f.Type == T.AwsSecretKey), Is.Empty, "41 characters");
        Assert.That(Find($"checksum {secret}").Where(f => f.Type == T.AwsSecretKey), Is.Empty, "no context");
        Assert.That(Find("secret: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").Where(f => f.Type == T.AwsSecretKey), Is.Empty, "low entropy");
        Assert.That(Find("secret: abcdefghijabcdefghijabcdefghijabcdefghij").Where(f => f.Type == T.AwsSecretKey), Is.Empty, "no digits/upper");
    }

    [TestCase("i-1234567890abcdef0에서 실행 중", T.AwsEc2, "i-1234567890abcdef0")]
    [TestCase("instance i-0a1b2c3d, ok", T.AwsEc2, "i-0a1b2c3d")]
    [TestCase("vpc-0abc1234def567890 안의", T.AwsVpc, "vpc-0abc1234def567890")]
    [TestCase("subnet-12345678", T.AwsSubnet, "subnet-12345678")]
    [TestCase("(sg-0123456789abcdef0)", T.AwsSecurityGroup, "sg-0123456789abcdef0")]
    [TestCase("eni-12345678", T.AwsEni, "eni-12345678")]
    [TestCase("ami-0abcdef1234567890", T.AwsAmi, "ami-0abcdef1234567890")]
    [TestCase("vol-049df61146c4d7901", T.AwsVolume, "vol-049df61146c4d7901")]
    [TestCase("snap-1234567890abcdef0", T.AwsSnapshot, "snap-1234567890abcdef0")]
    [TestCase("igw-c0a643a9", T.AwsIgw, "igw-c0a643a9")]
    [TestCase("nat-0a34a8efd5e92c3c4", T.AwsNat, "nat-0a34a8efd5e92c3c4")]
    [TestCase("rtb-22574640", T.AwsRouteTable, "rtb-22574640")]
    [TestCase("vpce-0e7f8b2a1c3d4e5f6", T.AwsVpcEndpoint, "vpce-0e7f8b2a1c3d4e5f6")]
    [TestCase("tgw-0262a0e5210123456", T.AwsTransitGateway, "tgw-0262a0e5210123456")]
    [TestCase("eipalloc-64d5890a", T.AwsEip, "eipalloc-64d5890a")]
    public void AwsResourceIds_AreFoundWithTheirType(string text, string type, string expected)
    {
        Assert.That(Find(text), Does.Contain((type, expected)));
    }

    [TestCase("i-12345 is short")]
    [TestCase("i-1234567890 has 10 hex digits")]
    [TestCase("vpc-xyz12345 is not hex")]
    [TestCase("multi-12345678 is no prefix")]
    [TestCase("hi-12345678 glued")]
    [TestCase("i-1234567890ABCDEF0 upper case")]
    public void AwsResourceNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type.StartsWith("AWS_", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void Arns_AreFoundWhole_AndS3ArnsYieldTheBucket()
    {
        Assert.That(Find("역할 arn:aws:iam::123456789012:role/DevOps를 사용."),
            Does.Contain((T.AwsArn, "arn:aws:iam::123456789012:role/DevOps")));
        Assert.That(Find("arn:aws:s3:::prod-logs-bucket/2024/*"), Does.Contain((T.AwsS3Bucket, "prod-logs-bucket")));
    }

    [Test]
    public void AccountIds_NeedAKeyword()
    {
        Assert.That(Find("AWS 계정 123456789012 에서"), Does.Contain((T.AwsAccount, "123456789012")));
        Assert.That(Find("Account ID: 210987654321"), Does.Contain((T.AwsAccount, "210987654321")));
        Assert.That(Find("주문번호 123456789012 확인"), Is.Empty);
    }

    [TestCase("s3://my-company-data/raw/", "my-company-data")]
    [TestCase("https://prod.assets-kr.s3.amazonaws.com/logo.png", "prod.assets-kr")]
    [TestCase("https://backup-2024.s3.ap-northeast-2.amazonaws.com/x", "backup-2024")]
    [TestCase("https://s3.ap-northeast-2.amazonaws.com/legacy-bucket/key", "legacy-bucket")]
    [TestCase("버킷 s3://team-bucket에 업로드", "team-bucket")]
    public void S3Buckets_AreFound(string text, string bucket)
    {
        Assert.That(Find(text), Does.Contain((T.AwsS3Bucket, bucket)));
    }

    [TestCase("sk-proj-AbCdEf1234567890GhIjKlMnOpQrStUv", T.OpenAiKey)]
    [TestCase("OPENAI_API_KEY=sk-AbCdEf1234567890GhIjKlMnOpQrStUvWxYz12345678", T.OpenAiKey)]
    [TestCase("sk-ant-api03-AbCdEf1234567890GhIjKlMnOpQrStUv-xyz", T.AnthropicKey)]
    [TestCase("ghp_AbCdEf1234567890GhIjKlMnOpQrStUvWx12", T.GitHubToken)]
    [TestCase("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU", T.GitHubToken)]
    [TestCase("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", T.SlackToken)]
    [TestCase("AIzaSyA1234567890abcdefghijklmnopqrstuv", T.GoogleApiKey)]
    public void ApiSecrets_AreFound(string text, string type)
    {
        Assert.That(Find(text).Select(f => f.Type), Does.Contain(type));
    }

    [TestCase("the task-scheduler-for-everything-in-here")]
    [TestCase("sk-this-is-not-a-real-key-at-all")]
    [TestCase("ghp_short")]
    [TestCase("AIzaShort")]
    public void ApiSecretNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text), Is.Empty);
    }

    [Test]
    public void Jwt_IsFoundOnlyWhenTheHeaderIsJson()
    {
        const string jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        Assert.That(Find($"Authorization: Bearer {jwt}입니다"), Does.Contain((T.Jwt, jwt)));
        Assert.That(Find("eyJnotbase64json.eyJabcdefghij.abcdefghijkl"), Is.Empty);
    }

    [Test]
    public void PemPrivateKeys_AreFoundWhole_EvenTruncated()
    {
        const string pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----";
        Assert.That(Find($"키:\n{pem}\n끝"), Does.Contain((T.PrivateKey, pem)));
        var truncated = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA";
        Assert.That(Find("x " + truncated), Does.Contain((T.PrivateKey, truncated)));
        Assert.That(Find("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"), Is.Empty);
    }

    [TestCase("메일은 hong.gildong@example.co.kr입니다", "hong.gildong@example.co.kr")]
    [TestCase("<dev+test@corp.io>", "dev+test@corp.io")]
    [TestCase("메일은 hong@example.com. 감사합니다", "hong@example.com")]
    [TestCase("Please write to ops@corp.co.kr.", "ops@corp.co.kr")]
    public void Emails_AreFound(string text, string email)
    {
        Assert.That(Find(text), Does.Contain((T.Email, email)));
    }

    [TestCase("user@localhost")]
    [TestCase("@mention only")]
    [TestCase(".bad.@example.com")]
    public void EmailNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type == T.Email), Is.Empty);
    }

    [TestCase("010-1234-5678입니다", "010-1234-5678")]
    [TestCase("연락처 01012345678로", "01012345678")]
    [TestCase("011-234-5678", "011-234-5678")]
    [TestCase("010.1234.5678", "010.1234.5678")]
    [TestCase("+82 10-1234-5678", "+82 10-1234-5678")]
    [TestCase("+82-2-123-4567", "+82-2-123-4567")]
    [TestCase("+1 (555) 123-4567", "+1 (555) 123-4567")]
    [TestCase("사무실 02-123-4567", "02-123-4567")]
    [TestCase("031-1234-5678번", "031-1234-5678")]
    [TestCase("070-1234-5678", "070-1234-5678")]
    [TestCase("고객센터 1588-1234", "1588-1234")]
    [TestCase("1899-5555로 전화", "1899-5555")]
    public void Phones_AreFound(string text, string phone)
    {
        Assert.That(Find(text), Does.Contain((T.Phone, phone)));
    }

    [TestCase("2024-01-15 회의")]
    [TestCase("010-123-456")]
    [TestCase("주문 1234-5678")]
    [TestCase("0101234567890123")]
    [TestCase("v1.2.3")]
    [TestCase("1850-1900년대 건축")]
    public void PhoneNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type == T.Phone), Is.Empty);
    }

    [TestCase("카드 4111-1111-1111-1111로 결제", "4111-1111-1111-1111")]
    [TestCase("5500 0000 0000 0004", "5500 0000 0000 0004")]
    [TestCase("amex 3782-822463-10005", "3782-822463-10005")]
    [TestCase("4012888888881881", "4012888888881881")]
    public void CreditCards_PassingLuhn_AreFound(string text, string card)
    {
        Assert.That(Find(text), Does.Contain((T.CreditCard, card)));
    }

    [TestCase("4111-1111-1111-1112")]
    [TestCase("1234567812345678")]
    public void CreditCardNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type == T.CreditCard), Is.Empty);
    }

    [TestCase("서버 10.0.1.25에 접속", T.IPv4, "10.0.1.25")]
    [TestCase("203.0.113.7:8080", T.IPv4, "203.0.113.7")]
    [TestCase("addr 2001:db8::8a2e:370:7334 입니다", T.IPv6, "2001:db8::8a2e:370:7334")]
    [TestCase("fe80::1ff:fe23:4567:890a%eth0", T.IPv6, "fe80::1ff:fe23:4567:890a")]
    public void IpAddresses_AreFound(string text, string type, string ip)
    {
        Assert.That(Find(text), Does.Contain((type, ip)));
    }

    [TestCase("127.0.0.1")]
    [TestCase("0.0.0.0")]
    [TestCase("::1")]
    [TestCase("256.1.1.1")]
    [TestCase("1.2.3.4.5")]
    [TestCase("01.02.03.04")]
    [TestCase("12:30:45")]
    [TestCase("std::vector")]
    [TestCase("00:1A:2B:3C:4D:5E")]
    public void IpNearMisses_LoopbackAndUnspecified_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type is T.IPv4 or T.IPv6), Is.Empty);
    }

    [TestCase("주민번호 900101-1234567입니다", T.KrRrn, "900101-1234567")]
    [TestCase("200229-3123456", T.KrRrn, "200229-3123456")]
    [TestCase("주민등록번호 8507151234567", T.KrRrn, "8507151234567")]
    [TestCase("외국인등록번호 900101-5234567", T.KrFrn, "900101-5234567")]
    public void KoreanRegistrationNumbers_WithValidDates_AreFound(string text, string type, string value)
    {
        Assert.That(Find(text), Does.Contain((type, value)));
    }

    [TestCase("900230-1234567")]
    [TestCase("901301-1234567")]
    [TestCase("900101-9234567")]
    [TestCase("코드 8507151234567")]
    [TestCase("210229-3123456")]
    public void KoreanRegistrationNearMisses_AreNotFound(string text)
    {
        Assert.That(Find(text).Where(f => f.Type is T.KrRrn or T.KrFrn), Is.Empty);
    }

    [Test]
    public void BusinessRegistrationNumbers_NeedAValidCheckDigit()
    {
        Assert.That(Find("사업자등록번호 220-81-62517"), Does.Contain((T.KrBrn, "220-81-62517")));
        Assert.That(Find("사업자등록번호 220-81-62518").Where(f => f.Type == T.KrBrn), Is.Empty);
    }

    [Test]
    public void PassportLicenceAndBankAccount_NeedContextWords()
    {
        Assert.That(Find("여권번호 M12345678 입니다"), Does.Contain((T.Passport, "M12345678")));
        Assert.That(Find("여권 M123A4567"), Does.Contain((T.Passport, "M123A4567")));
        Assert.That(Find("모델 M12345678"), Is.Empty);
        Assert.That(Find("운전면허 11-22-333333-44"), Does.Contain((T.DriverLicense, "11-22-333333-44")));
        Assert.That(Find("부품 11-22-333333-44"), Is.Empty);
        Assert.That(Find("신한 110-123-456789로 입금"), Does.Contain((T.BankAccount, "110-123-456789")));
        Assert.That(Find("카카오뱅크 3333-01-1234567"), Does.Contain((T.BankAccount, "3333-01-1234567")));
        Assert.That(Find("계좌번호: 123456789012"), Does.Contain((T.BankAccount, "123456789012")));
        Assert.That(Find("우리 팀 코드 110-123-456789"), Is.Empty, "우리 alone is 'we', not a bank");
    }

    [Test]
    public void CustomDetectorsAndAllowList_ComeFromOptions()
    {
        var options = new MaskingOptions
        {
            CustomDetectors = [new CustomDetectorOptions { Type = "EMPLOYEE_ID", Pattern = "EMP-[0-9]{6}" }],
            AllowList = ["public@example.com"],
            DisabledTypes = [T.IPv4],
        };
        var found = Find("EMP-123456님, public@example.com 말고 me@example.com, 10.0.0.1", options);
        Assert.That(found, Does.Contain(("EMPLOYEE_ID", "EMP-123456")));
        Assert.That(found, Does.Contain((T.Email, "me@example.com")));
        Assert.That(found.Select(f => f.Value), Has.None.EqualTo("public@example.com"));
        Assert.That(found.Select(f => f.Type), Has.None.EqualTo(T.IPv4));
    }

    [Test]
    public void InvalidCustomPattern_IsReportedByValidation()
    {
        var options = new MaskingOptions
        {
            CustomDetectors = [new CustomDetectorOptions { Type = "X_ID", Pattern = "(?<=a)b" }, new CustomDetectorOptions { Type = "bad", Pattern = "a" }],
        };
        var errors = options.Validate();
        Assert.That(errors, Has.Some.Contains("CustomDetectors:0:Pattern"));
        Assert.That(errors, Has.Some.Contains("CustomDetectors:1:Type"));
    }
}
