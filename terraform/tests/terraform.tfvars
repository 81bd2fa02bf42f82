# Inputs every test file starts from (a file's or a run's variables win):
# the required ones, and the custom domain the default cookie sign-in needs.
artifacts_dir        = "tests/fixtures/artifacts"
app_url              = "https://app.example.com"
cors_allowed_origins = ["https://app.example.com"]
domain_name          = "api.example.com"
certificate_arn      = "arn:aws:acm:eu-west-1:123456789012:certificate/given"
