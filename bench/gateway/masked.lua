-- wrk script for bench/gateway/masked.sh: a chat completion whose prompt is clean (SECRETS=0) or holds
-- seed 004's AWS scenario (SECRETS=1: 3 EC2 ids, a VPC, 2 access keys, a secret key, 2 S3 buckets).
local stream = os.getenv("STREAM") == "1"
local secrets = os.getenv("SECRETS") == "1"
local text = secrets
  and "EC2 인스턴스 i-1234567890abcdef0와 i-0fedcba9876543210이 vpc-0a1b2c3d4e5f67890 안에서 실행 중이고, IAM 액세스 키는 AKIAIOSFODNN7EXAMPLE, 시크릿은 aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY 입니다. 로그는 s3://prod-app-logs-2024/에, 백업은 https://kr-backup-bucket.s3.ap-northeast-2.amazonaws.com/db.dump에 있습니다. 보조 키 AKIAI44QH8DHBEXAMPLE를 쓰는 i-1234567890abcdef0도 확인해 주세요."
  or  "EC2 인스턴스 두 개가 같은 VPC 안에서 실행 중이고, IAM 액세스 키와 시크릿은 환경 변수에 있습니다. 로그는 S3 버킷에, 백업은 다른 리전의 버킷에 있습니다. 보조 키를 쓰는 인스턴스도 확인해 주세요. 비용을 줄일 방법이 있을까요? 두 문장으로 답해 주세요."
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"' .. text .. '"}],"max_tokens":64' .. (stream and ',"stream":true' or '') .. '}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000"
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), summary.errors.status))
end
