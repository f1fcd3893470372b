// Package mediastore keeps media files in a gocloud.dev/blob bucket named by a URL
// (MEDIA_BUCKET_URL): file:// (the default, a folder), mem:// (tests), s3:// (Amazon S3
// and S3-compatible stores) and azblob:// (Azure Blob Storage). gs:// is not linked in:
// its driver (cloud.google.com/go/storage) brings gRPC's xDS, Envoy's and OpenTelemetry's
// exporters, 26 MB of the binary (+35%), where s3blob costs 7.4 MB and azureblob 1.6 MB;
// Google Cloud Storage is reachable through its S3-compatible XML API (s3:// with
// endpoint=https://storage.googleapis.com and HMAC keys).
package mediastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// buckets
	_ "gocloud.dev/blob/fileblob"  // file:// buckets
	_ "gocloud.dev/blob/memblob"   // mem:// buckets
	_ "gocloud.dev/blob/s3blob"    // s3:// buckets
	"gocloud.dev/gcerrors"

	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
)

// DefaultDir is the folder under the working directory that keeps media files when
// MEDIA_BUCKET_URL is not set.
const DefaultDir = "media"

// DefaultURL is the file:// URL of DefaultDir under the working directory wd.
func DefaultURL(wd string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(wd, DefaultDir))}).String()
}

// CheckURL tells whether a bucket URL has a scheme this build opens, before anything is
// opened (start-up validation).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return errors.New("must be a bucket URL such as file:///var/lib/waba/media, s3://bucket?region=eu-west-1 or azblob://container")
	}
	if !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) {
		return fmt.Errorf("the scheme %s:// is not one this build opens (%s)", u.Scheme, strings.Join(Schemes(), ", "))
	}
	if u.Scheme == "file" && u.Path == "" {
		return errors.New("a file:// URL needs an absolute path, such as file:///var/lib/waba/media")
	}
	return nil
}

// Schemes lists the bucket schemes this build opens.
func Schemes() []string {
	var out []string
	for _, s := range blob.DefaultURLMux().BucketSchemes() {
		out = append(out, s+"://")
	}
	return out
}

// Store is a bucket (media.Store).
type Store struct{ b *blob.Bucket }

// Open opens the bucket at rawURL. A file:// folder is created when missing.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL)
	if u.Scheme == "file" {
		if err := os.MkdirAll(filepath.FromSlash(u.Path), 0o750); err != nil {
			return nil, fmt.Errorf("media store: %w", err)
		}
		q := u.Query()
		q.Set("metadata", "skip") // no .attrs files beside the media: the database has the type
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	return &Store{b: b}, nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

// Ping checks the bucket can be reached.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("media store: the bucket is not accessible")
	}
	return err
}

// NewWriter implements media.Store.
func (s *Store) NewWriter(ctx context.Context, key, contentType string) (media.Writer, error) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := s.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		cancel()
		return nil, err
	}
	return &writer{w: w, cancel: cancel}, nil
}

type writer struct {
	w      *blob.Writer
	cancel context.CancelFunc
	done   bool
}

func (w *writer) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.cancel()
	return w.w.Close()
}

// Abort cancels the write before closing: the bucket keeps nothing of it.
func (w *writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	_ = w.w.Close()
}

// Open implements media.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.b.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, domain.NotFound("media file")
	}
	return r, err
}

// Delete implements media.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.b.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return err
}

// DeletePrefix deletes every object under prefix (a workspace's files when it is erased).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if obj.IsDir {
			continue
		}
		if err := s.Delete(ctx, obj.Key); err != nil {
			return err
		}
	}
}
