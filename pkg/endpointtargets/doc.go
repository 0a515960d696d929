// Package endpointtargets keeps an ALB IP target group in step with the
// network interfaces of an S3 interface VPC endpoint.
//
// CloudFormation exposes an interface endpoint's network interface IDs but not
// their private IPs, and an IP target group can only hold IPs. The template's
// Custom::EndpointTargets resource closes that gap: on Create and Update it
// looks the IPs up and makes them the target group's only targets; on Delete it
// removes them. The ALB then forwards /_direct and upload-passthrough requests
// straight to S3 over PrivateLink, with no compute in the byte path.
//
// The package is the logic only. functions/endpointtargets wires it to the
// real EC2 and ELBv2 clients and to aws-lambda-go's cfn.LambdaWrap, which sends
// the answer to CloudFormation.
package endpointtargets
