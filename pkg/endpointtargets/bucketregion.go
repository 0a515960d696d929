package endpointtargets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// BucketRegionAPI tells the region a bucket is in.
type BucketRegionAPI interface {
	BucketRegion(ctx context.Context, bucket string) (string, error)
}

// ErrNoSuchBucket is BucketRegion's answer for a bucket S3 does not know.
var ErrNoSuchBucket = errors.New("no such bucket")

// BucketRegionOverHTTP reads a bucket's region from an anonymous HEAD of
// the bucket: S3 names it in the x-amz-bucket-region header of its answer,
// a 301 or 403 included, so no permission on the bucket is needed
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html; the
// SDKs' GetBucketRegion helpers rely on the same answer). The function that
// runs the checks is not attached to the VPC, so it reaches S3's public
// endpoint.
type BucketRegionOverHTTP struct {
	// Client sends the request; it should carry a timeout.
	Client *http.Client
	// Endpoint, when set, is asked path-style (<Endpoint>/<bucket>) instead
	// of https://<bucket>.s3.amazonaws.com, for tests against a local S3.
	Endpoint string
}

// BucketRegion implements BucketRegionAPI.
func (b BucketRegionOverHTTP) BucketRegion(ctx context.Context, bucket string) (string, error) {
	target := "https://" + bucket + ".s3.amazonaws.com/"
	if b.Endpoint != "" {
		target = strings.TrimSuffix(b.Endpoint, "/") + "/" + url.PathEscape(bucket)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err != nil {
		return "", err
	}
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	// A 301 to the bucket's regional endpoint carries the header too: read
	// it there instead of following.
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if region := resp.Header.Get("X-Amz-Bucket-Region"); region != "" {
		return region, nil
	}
	if resp.StatusCode == http.StatusNotFound {
		return "", ErrNoSuchBucket
	}
	return "", fmt.Errorf("HEAD of the bucket answered %d without x-amz-bucket-region", resp.StatusCode)
}
