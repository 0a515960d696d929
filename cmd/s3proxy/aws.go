package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// checkAWSConfig loads the operator's configuration: the region from
// --region or getenv, static keys from getenv when both are set, the
// profile from AWS_PROFILE, one endpoint for every service from
// AWS_ENDPOINT_URL (a local emulator), and the rest of the default chain otherwise.
func checkAWSConfig(ctx context.Context, region string, getenv func(string) string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		// The SDK's own variable, read here from getenv like the rest.
		// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
		opts = append(opts, awsconfig.WithBaseEndpoint(u))
	}
	if p := getenv("AWS_PROFILE"); p != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p))
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))))
	}
	return awsconfig.LoadDefaultConfig(ctx, opts...)
}
