package sgstacks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// fakeRouteTables answers DescribeRouteTables with fixed tables.
type fakeRouteTables []ec2types.RouteTable

func (f fakeRouteTables) DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error) {
	return &ec2.DescribeRouteTablesOutput{RouteTables: f}, nil
}

func rt(id string, main bool, subnets ...string) ec2types.RouteTable {
	t := ec2types.RouteTable{RouteTableId: aws.String(id)}
	if main {
		t.Associations = append(t.Associations, ec2types.RouteTableAssociation{Main: aws.Bool(true)})
	}
	for _, s := range subnets {
		t.Associations = append(t.Associations, ec2types.RouteTableAssociation{SubnetId: aws.String(s)})
	}
	return t
}

func TestRouteTables(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables fakeRouteTables
		want   []string
	}{
		{"one shared table", fakeRouteTables{rt("rtb-main", true), rt("rtb-private", false, "subnet-a", "subnet-b")}, []string{"rtb-private"}},
		{"one table each", fakeRouteTables{rt("rtb-a", false, "subnet-a"), rt("rtb-b", false, "subnet-b")}, []string{"rtb-a", "rtb-b"}},
		{"an unassociated subnet uses the main table", fakeRouteTables{rt("rtb-main", true), rt("rtb-a", false, "subnet-a")}, []string{"rtb-a", "rtb-main"}},
		{"no associations at all", fakeRouteTables{rt("rtb-main", true), rt("rtb-other", false, "subnet-z")}, []string{"rtb-main"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RouteTables(context.Background(), tc.tables, "vpc-1", []string{"subnet-a", "subnet-b"})
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// fakeCFN answers DescribeStacks as CloudFormation does for a stack that
// does not exist.
type fakeCFN struct{ err error }

func (f fakeCFN) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return nil, f.err
}

func (f fakeCFN) DescribeStackResources(context.Context, *cloudformation.DescribeStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error) {
	return nil, f.err
}

func TestStackErrors(t *testing.T) {
	missing := &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id sg-private-vpc does not exist"}
	_, err := Read(context.Background(), Clients{CFN: fakeCFN{missing}}, "eu-west-1", Stacks{VPC: "sg-private-vpc"})
	if !errors.Is(err, ErrStackNotFound) || !strings.Contains(err.Error(), "sg-private-vpc in eu-west-1") || !strings.Contains(err.Error(), "--region") {
		t.Errorf("missing stack: %v", err)
	}
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform cloudformation:DescribeStacks"}
	_, err = Read(context.Background(), Clients{CFN: fakeCFN{denied}}, "eu-west-1", Stacks{Proxy: "sg-s3-proxy"})
	if errors.Is(err, ErrStackNotFound) || !strings.Contains(err.Error(), "cloudformation:DescribeStacks") {
		t.Errorf("access denied: %v", err)
	}
	if _, err := Read(context.Background(), Clients{}, "eu-west-1", Stacks{}); err == nil {
		t.Error("no stacks named: no error")
	}
}
