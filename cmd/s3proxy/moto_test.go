package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// moto is one moto_server on loopback, started by the test and stopped by
// its PID.
type moto struct{ *peertest.Moto }

func startMoto(t *testing.T) *moto {
	t.Helper()
	return &moto{peertest.StartMoto(t, peertest.MotoOptions{})}
}

// env is the CLI's environment pointing every AWS client at moto.
func (m *moto) env() map[string]string {
	return map[string]string{"AWS_ENDPOINT_URL": m.URL, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
}

// createStack creates a stack from testdata/file and returns its outputs.
func (m *moto) createStack(t *testing.T, region, name, file string, params map[string]string) map[string]string {
	t.Helper()
	body, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var ps []cfntypes.Parameter
	for k, v := range params {
		ps = append(ps, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	cf := cloudformation.NewFromConfig(m.AWSConfig(region))
	ctx := context.Background()
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(body)),
		Parameters: ps, Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}}); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) != 1 || out.Stacks[0].StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %+v, %v", name, out, err)
	}
	o := map[string]string{}
	for _, x := range out.Stacks[0].Outputs {
		o[aws.ToString(x.OutputKey)] = aws.ToString(x.OutputValue)
	}
	return o
}

// resource is the physical ID of a stack's resource of type typ.
func (m *moto) resource(t *testing.T, region, stack, typ string) string {
	t.Helper()
	out, err := cloudformation.NewFromConfig(m.AWSConfig(region)).DescribeStackResources(context.Background(),
		&cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.StackResources {
		if aws.ToString(r.ResourceType) == typ {
			return aws.ToString(r.PhysicalResourceId)
		}
	}
	t.Fatalf("stack %s has no %s", stack, typ)
	return ""
}

// importCertificate imports a self-signed certificate for names into
// moto's ACM (an imported certificate is ISSUED at once) and returns its
// ARN.
func (m *moto) importCertificate(t *testing.T, region string, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := acm.NewFromConfig(m.AWSConfig(region)).ImportCertificate(context.Background(), &acm.ImportCertificateInput{
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		PrivateKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.CertificateArn)
}
