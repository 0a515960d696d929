// Package endpointtargets keeps an ALB IP target group in step with the
// network interfaces of an S3 interface VPC endpoint.
//
// CloudFormation exposes an interface endpoint's network interface IDs but not
// their private IPs, and an IP target group can only hold IPs. The template's
// Custom::EndpointTargets resource closes that gap: on Create and Update it
// looks the IPs up and makes them the target group's only targets; on Delete it
// removes them. The template passes the endpoint's NetworkInterfaceIds as a
// property, so a change of the endpoint's interfaces (a SubnetIds change
// updates the endpoint in place) reaches the resource as an Update. It also
// returns the endpoint's regional DNS name, chosen by its shape rather than
// by its position in DnsEntries. The ALB then forwards /_direct and upload-passthrough requests
// straight to S3 over PrivateLink, with no compute in the byte path.
//
// The same function serves Custom::NetworkChecks (network.go): before the
// endpoint and the load balancer exist, it refuses studio ranges that are
// everything or the VPC's own, endpoint zones that the S3 interface service
// or the load balancer do not cover, a certificate the HTTPS listener cannot
// use, and a bucket in another region (bucketregion.go).
//
// The package is the logic only. functions/endpointtargets wires it to the
// real EC2, ELBv2 and ACM clients and to aws-lambda-go's cfn.LambdaWrap, which
// sends the answer to CloudFormation.
package endpointtargets
