// Command endpointtargets is the Lambda behind the template's
// Custom::EndpointTargets resource: it registers the S3 interface endpoint's
// IPs in the ALB's IP target group, and behind Custom::NetworkChecks, which
// checks what only EC2 and ACM know about the network and the certificate
// before the endpoint and the load balancer exist.
// The logic is in pkg/endpointtargets; this
// is wiring only.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/mediaisolation/s3proxy/pkg/endpointtargets"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)

	// Loading the config reads the environment only: no network call at init.
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("load AWS config", "error", err)
		os.Exit(1)
	}
	ec2Client := ec2.NewFromConfig(cfg)
	r := &endpointtargets.Reconciler{
		EC2:          ec2Client,
		ELB:          elbv2.NewFromConfig(cfg),
		Network:      ec2Client,
		Certificates: acm.NewFromConfig(cfg),
		// Well inside the function's time budget; a slow answer only warns.
		BucketRegions: endpointtargets.BucketRegionOverHTTP{Client: &http.Client{Timeout: 10 * time.Second}},
		Logger:        logger,
	}
	// The answer goes to a presigned URL; a failed PUT must not log it.
	lambda.Start(endpointtargets.RedactResponseURL(cfn.LambdaWrap(endpointtargets.Guard(r.Handle, endpointtargets.DefaultMargin))))
}
