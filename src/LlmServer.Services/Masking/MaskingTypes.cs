namespace LlmServer.Services.Masking;

/// <summary>Placeholder type names of the built-in detectors.</summary>
public static class MaskingTypes
{
    public const string AwsAccessKey = "AWS_ACCESS_KEY";
    public const string AwsSecretKey = "AWS_SECRET_KEY";
    public const string AwsArn = "AWS_ARN";
    public const string AwsAccount = "AWS_ACCOUNT";
    public const string AwsS3Bucket = "AWS_S3_BUCKET";
    public const string AwsEc2 = "AWS_EC2";
    public const string AwsVpc = "AWS_VPC";
    public const string AwsSubnet = "AWS_SUBNET";
    public const string AwsSecurityGroup = "AWS_SG";
    public const string AwsEni = "AWS_ENI";
    public const string AwsAmi = "AWS_AMI";
    public const string AwsVolume = "AWS_VOLUME";
    public const string AwsSnapshot = "AWS_SNAPSHOT";
    public const string AwsIgw = "AWS_IGW";
    public const string AwsNat = "AWS_NAT";
    public const string AwsRouteTable = "AWS_RTB";
    public const string AwsVpcEndpoint = "AWS_VPCE";
    public const string AwsTransitGateway = "AWS_TGW";
    public const string AwsEip = "AWS_EIP";
    public const string OpenAiKey = "OPENAI_KEY";
    public const string AnthropicKey = "ANTHROPIC_KEY";
    public const string GitHubToken = "GITHUB_TOKEN";
    public const string SlackToken = "SLACK_TOKEN";
    public const string GoogleApiKey = "GOOGLE_API_KEY";
    public const string Jwt = "JWT";
    public const string PrivateKey = "PRIVATE_KEY";
    public const string Email = "EMAIL";
    public const string Phone = "PHONE";
    public const string CreditCard = "CREDIT_CARD";
    public const string IPv4 = "IPV4";
    public const string IPv6 = "IPV6";
    public const string KrRrn = "KR_RRN";
    public const string KrFrn = "KR_FRN";
    public const string KrBrn = "KR_BRN";
    public const string Passport = "PASSPORT";
    public const string DriverLicense = "DRIVER_LICENSE";
    public const string BankAccount = "BANK_ACCOUNT";

    /// <summary>Every built-in type.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        AwsAccessKey, AwsSecretKey, AwsArn, AwsAccount, AwsS3Bucket, AwsEc2, AwsVpc, AwsSubnet, AwsSecurityGroup,
        AwsEni, AwsAmi, AwsVolume, AwsSnapshot, AwsIgw, AwsNat, AwsRouteTable, AwsVpcEndpoint, AwsTransitGateway,
        AwsEip, OpenAiKey, AnthropicKey, GitHubToken, SlackToken, GoogleApiKey, Jwt, PrivateKey, Email, Phone,
        CreditCard, IPv4, IPv6, KrRrn, KrFrn, KrBrn, Passport, DriverLicense, BankAccount,
    ];
}
